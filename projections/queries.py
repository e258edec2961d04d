"""What the API reads: plain functions over a ``Database``, rows as dicts, JSON columns decoded."""

from __future__ import annotations

from projections.base import from_json
from projections.db import Reader, Row

_OBJECT_COLUMNS = (
    "bucket, key, blob_id, size, etag, sha256, content_type, metadata, replicas, last_modified, seq"
)
_MAX_CHAR = 0x10FFFF


async def get_bucket(db: Reader, name: str) -> Row | None:
    return await db.fetchrow(
        "SELECT name, region, owner, created_at, created_seq FROM buckets WHERE name = $1", name
    )


async def list_buckets(db: Reader) -> list[Row]:
    return await db.fetch(
        "SELECT name, region, owner, created_at, created_seq FROM buckets ORDER BY name"
    )


def _object(row: Row) -> Row:
    row["metadata"] = from_json(row["metadata"])
    row["replicas"] = from_json(row["replicas"])
    return row


async def get_object(db: Reader, bucket: str, key: str) -> Row | None:
    row = await db.fetchrow(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND key = $2", bucket, key
    )
    return None if row is None else _object(row)


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (code point order, which
    is UTF-8 byte order), or None when no such bound exists."""
    stripped = prefix.rstrip(chr(_MAX_CHAR))
    if not stripped:
        return None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates never occur in UTF-8 text
        last = 0xE000
    return stripped[:-1] + chr(last)


async def list_objects(
    db: Reader, bucket: str, *, prefix: str = "", start_after: str = "", limit: int = 1000
) -> list[Row]:
    """Up to ``limit + 1`` objects in byte order: one more than asked tells the caller that the
    listing is truncated."""
    # A key range rather than LIKE: LIKE is case-insensitive in SQLite and cannot use the
    # primary key index under every collation; the range always can.
    end = prefix_end(prefix) if prefix else None
    if end is None:
        rows = await db.fetch(
            f"""SELECT {_OBJECT_COLUMNS} FROM objects
            WHERE bucket = $1 AND key >= $2 AND key > $3 ORDER BY key LIMIT $4""",
            bucket, prefix, start_after, limit + 1,
        )
    else:
        rows = await db.fetch(
            f"""SELECT {_OBJECT_COLUMNS} FROM objects
            WHERE bucket = $1 AND key >= $2 AND key > $3 AND key < $4 ORDER BY key LIMIT $5""",
            bucket, prefix, start_after, end, limit + 1,
        )
    return [_object(r) for r in rows]


async def count_objects(db: Reader, bucket: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM objects WHERE bucket = $1", bucket))


async def command_outcome(db: Reader, command_id: str) -> Row | None:
    """``{command_id, seq, type, ok: bool, code, message, actor, at}`` or None if not decided."""
    row = await db.fetchrow(
        """SELECT command_id, seq, type, ok, code, message, actor, at
        FROM command_outcomes WHERE command_id = $1""",
        command_id,
    )
    if row is not None:
        row["ok"] = bool(row["ok"])
    return row


async def checkpoints(db: Reader) -> dict[str, int]:
    rows = await db.fetch("SELECT name, last_seq FROM projection_checkpoints")
    return {r["name"]: int(r["last_seq"]) for r in rows}


async def garbage_after(db: Reader, seq: int, limit: int) -> list[Row]:
    """Orphaned blobs in log order, for a collector that remembers the last ``seq`` it handled."""
    rows = await db.fetch(
        """SELECT blob_id, replicas, bucket, key, seq FROM blob_garbage
        WHERE seq > $1 ORDER BY seq, blob_id LIMIT $2""",
        seq, limit,
    )
    for row in rows:
        row["replicas"] = from_json(row["replicas"])
    return rows

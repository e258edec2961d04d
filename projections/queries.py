"""What the API reads: plain functions over a ``Database``, rows as dicts, JSON columns decoded."""

from __future__ import annotations

from projections.base import from_json
from projections.db import Reader, Row

_OBJECT_COLUMNS = (
    "bucket, key, version_id, blob_id, parts, size, etag, sha256, content_type, metadata, "
    "headers, checksums, tags, replicas, last_modified, seq"
)
_VERSION_COLUMNS = f"{_OBJECT_COLUMNS}, is_latest, is_delete_marker"
_JSON_COLUMNS = ("metadata", "replicas", "parts", "headers", "checksums", "tags")
_MAX_CHAR = 0x10FFFF


_BUCKET_COLUMNS = "name, region, owner, created_at, created_seq, versioning, cors, policy, tags"


def _bucket(row: Row | None) -> Row | None:
    if row is not None:
        row["cors"] = from_json(row["cors"]) or []
        row["tags"] = from_json(row["tags"]) or {}
    return row


async def get_bucket(db: Reader, name: str) -> Row | None:
    return _bucket(
        await db.fetchrow(f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE name = $1", name)
    )


async def list_buckets(db: Reader) -> list[Row]:
    rows = await db.fetch(f"SELECT {_BUCKET_COLUMNS} FROM buckets ORDER BY name")
    return [r for r in map(_bucket, rows) if r is not None]


def _object(row: Row) -> Row:
    for column in _JSON_COLUMNS:
        if column in row:
            row[column] = from_json(row[column]) if row[column] is not None else None
    if "parts" in row and row["parts"] is None:
        row["parts"] = []
    if "is_latest" in row:
        row["is_latest"] = bool(row["is_latest"])
        row["is_delete_marker"] = bool(row["is_delete_marker"])
    return row


async def get_version(db: Reader, bucket: str, key: str, version_id: str) -> Row | None:
    """One version (or delete marker) of a key."""
    row = await db.fetchrow(
        f"""SELECT {_VERSION_COLUMNS} FROM object_versions
        WHERE bucket = $1 AND key = $2 AND version_id = $3""",
        bucket,
        key,
        version_id,
    )
    return None if row is None else _object(row)


async def latest_version(db: Reader, bucket: str, key: str) -> Row | None:
    """The newest version of a key, delete markers included (GET on a deleted key tells)."""
    row = await db.fetchrow(
        f"""SELECT {_VERSION_COLUMNS} FROM object_versions
        WHERE bucket = $1 AND key = $2 AND is_latest = 1""",
        bucket,
        key,
    )
    return None if row is None else _object(row)


async def list_versions(
    db: Reader,
    bucket: str,
    *,
    prefix: str = "",
    key_marker: str = "",
    after_seq: int | None = None,
    limit: int = 1000,
) -> list[Row]:
    """Versions in key order, newest first within a key; after (``key_marker``, ``after_seq``):
    with a sequence, the rest of that key's older versions come first."""
    end = prefix_end(prefix) if prefix else None
    bound = "AND key < $4" if end is not None else "AND $4 = $4"
    rows = await db.fetch(
        f"""SELECT {_VERSION_COLUMNS} FROM object_versions
        WHERE bucket = $1 AND key >= $2 {bound}
          AND (key > $3 OR (key = $3 AND seq < $5))
        ORDER BY key, seq DESC LIMIT $6""",
        bucket,
        prefix,
        key_marker,
        end if end is not None else "",
        after_seq if after_seq is not None else -1,
        limit + 1,
    )
    return [_object(r) for r in rows]


async def get_upload(db: Reader, bucket: str, upload_id: str) -> Row | None:
    row = await db.fetchrow(
        """SELECT bucket, upload_id, key, initiator, initiated, content_type, metadata, headers,
            tags, checksum_algorithm, seq FROM uploads WHERE bucket = $1 AND upload_id = $2""",
        bucket,
        upload_id,
    )
    return None if row is None else _object(row)


async def list_uploads(
    db: Reader,
    bucket: str,
    *,
    prefix: str = "",
    key_marker: str = "",
    upload_id_marker: str = "",
    limit: int = 1000,
) -> list[Row]:
    end = prefix_end(prefix) if prefix else None
    bound = "AND key < $4" if end is not None else "AND $4 = $4"
    rows = await db.fetch(
        f"""SELECT bucket, upload_id, key, initiator, initiated FROM uploads
        WHERE bucket = $1 AND key >= $2 {bound}
          AND (key > $3 OR (key = $3 AND upload_id > $5))
        ORDER BY key, upload_id LIMIT $6""",
        bucket,
        prefix,
        key_marker,
        end if end is not None else "",
        upload_id_marker,
        limit + 1,
    )
    return rows


async def list_parts(
    db: Reader, bucket: str, upload_id: str, *, after: int = 0, limit: int = 1000
) -> list[Row]:
    rows = await db.fetch(
        """SELECT part_number, blob_id, size, etag, sha256, checksums, replicas, last_modified
        FROM upload_parts WHERE bucket = $1 AND upload_id = $2 AND part_number > $3
        ORDER BY part_number LIMIT $4""",
        bucket,
        upload_id,
        after,
        limit + 1,
    )
    return [_object(r) for r in rows]


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
            bucket,
            prefix,
            start_after,
            limit + 1,
        )
    else:
        rows = await db.fetch(
            f"""SELECT {_OBJECT_COLUMNS} FROM objects
            WHERE bucket = $1 AND key >= $2 AND key > $3 AND key < $4 ORDER BY key LIMIT $5""",
            bucket,
            prefix,
            start_after,
            end,
            limit + 1,
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
        seq,
        limit,
    )
    for row in rows:
        row["replicas"] = from_json(row["replicas"])
    return rows


# ---------------------------------------------------------------- replicas (replicator, scrubber)
# Over ``blob_refs``: one row per live blob whatever references it (object versions, copies,
# multipart parts, parts of uploads in progress), kept in step with those rows' replica sets.

_BLOB_COLUMNS = "blob_id, sha256, size, replicas"


def _blob(row: Row) -> Row:
    row["replicas"] = from_json(row["replicas"]) or []
    return row


async def under_replicated(
    db: Reader, sidecar_names: list[str], *, after: str = "", limit: int = 500
) -> list[Row]:
    """Live blobs some configured sidecar does not hold, in blob id order after ``after``; each
    row says which (``missing``). Blobs recorded on as many sidecars as are configured are not
    looked at (cheap, by index): a renamed sidecar is the scrubber's to catch up."""
    rows = await db.fetch(
        f"""SELECT {_BLOB_COLUMNS} FROM blob_refs WHERE copies < $1 AND blob_id > $2
        ORDER BY blob_id LIMIT $3""",
        len(sidecar_names),
        after,
        limit,
    )
    found = []
    for row in map(_blob, rows):
        row["missing"] = [n for n in sidecar_names if n not in row["replicas"]]
        found.append(row)
    return found


async def live_blobs(db: Reader, *, after: str = "", limit: int = 500) -> list[Row]:
    """Every live blob with its digest, size and replicas, in blob id order after ``after``."""
    rows = await db.fetch(
        f"SELECT {_BLOB_COLUMNS} FROM blob_refs WHERE blob_id > $1 ORDER BY blob_id LIMIT $2",
        after,
        limit,
    )
    return [_blob(r) for r in rows]


async def get_blob(db: Reader, blob_id: str) -> Row | None:
    row = await db.fetchrow(f"SELECT {_BLOB_COLUMNS} FROM blob_refs WHERE blob_id = $1", blob_id)
    return None if row is None else _blob(row)


async def blob_referrer(db: Reader, blob_id: str) -> Row | None:
    """One object version (or else one upload) referencing a blob: ``{bucket, key, version_id,
    upload_id}``, or None when nothing does."""
    row = await db.fetchrow(
        """SELECT bucket, key, version_id FROM version_blobs WHERE blob_id = $1
        ORDER BY bucket, key, version_id LIMIT 1""",
        blob_id,
    )
    if row is not None:
        return row | {"upload_id": None}
    row = await db.fetchrow(
        """SELECT p.bucket, u.key, p.upload_id FROM upload_parts p
        JOIN uploads u ON u.bucket = p.bucket AND u.upload_id = p.upload_id
        WHERE p.blob_id = $1 ORDER BY p.bucket, p.upload_id LIMIT 1""",
        blob_id,
    )
    return None if row is None else row | {"version_id": ""}


async def replica_sets(db: Reader) -> list[tuple[list[str], int]]:
    """(replica set, number of live blobs recorded with exactly it): few groups, whatever the
    number of blobs, so a status report need not read every row into Python."""
    rows = await db.fetch("SELECT replicas, count(*) AS n FROM blob_refs GROUP BY replicas")
    return [(from_json(r["replicas"]) or [], int(r["n"])) for r in rows]

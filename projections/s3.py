"""Read models of the s3 service: buckets, objects (and the blobs they orphan), command outcomes.

Text columns that S3 lists are ``COLLATE BINARY`` (``"C"`` on PostgreSQL): S3 orders keys by their
UTF-8 bytes, which for valid UTF-8 is code point order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bus.log import Stored
from events import s3
from projections.base import Projection, iso, outcome, to_json
from projections.db import Tx


class BucketsProjection(Projection):
    name = "buckets"
    event_types = frozenset({s3.BucketCreated.TYPE, s3.BucketDeleted.TYPE})
    tables = {"buckets": ("name",)}
    ddl = (
        """CREATE TABLE IF NOT EXISTS buckets (
            name TEXT COLLATE BINARY PRIMARY KEY,
            region TEXT NOT NULL,
            owner TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_seq BIGINT NOT NULL
        )""",
    )

    async def apply(self, stored: Stored, tx: Tx) -> None:
        data = stored.envelope.data
        if isinstance(data, s3.BucketCreated):
            # The handler never creates a live bucket twice; should the log say so anyway, the
            # later fact wins rather than wedging the projector on a primary key.
            await tx.execute(
                """INSERT INTO buckets (name, region, owner, created_at, created_seq)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (name) DO UPDATE SET region = excluded.region, owner = excluded.owner,
                    created_at = excluded.created_at, created_seq = excluded.created_seq""",
                data.bucket, data.region, data.owner, iso(stored.envelope.at), stored.seq,
            )
        elif isinstance(data, s3.BucketDeleted):
            await tx.execute("DELETE FROM buckets WHERE name = $1", data.bucket)


_LOOKUP_PAIRS = 32
# A fixed number of (bucket, key) pairs per lookup keeps one statement text, so drivers reuse
# one prepared statement; short chunks repeat their last pair.
_LOOKUP_SQL = "SELECT bucket, key, blob_id, replicas FROM objects WHERE " + " OR ".join(
    f"(bucket = ${2 * i + 1} AND key = ${2 * i + 2})" for i in range(_LOOKUP_PAIRS)
)
_UPSERT_SQL = """INSERT INTO objects (bucket, key, blob_id, size, etag, sha256, content_type,
        metadata, replicas, last_modified, seq)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (bucket, key) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size,
        etag = excluded.etag, sha256 = excluded.sha256, content_type = excluded.content_type,
        metadata = excluded.metadata, replicas = excluded.replicas,
        last_modified = excluded.last_modified, seq = excluded.seq"""
_GARBAGE_SQL = """INSERT INTO blob_garbage (blob_id, replicas, bucket, key, seq)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (blob_id) DO NOTHING"""

ObjectKey = tuple[str, str]
Live = tuple[str, str]  # blob_id, replicas json


class ObjectsProjection(Projection):
    """The live object per key (last write in log order wins) and, in ``blob_garbage``, every blob
    a put replaced or a delete removed, with the sequence of the event that orphaned it."""

    name = "objects"
    event_types = frozenset({s3.ObjectPut.TYPE, s3.ObjectDeleted.TYPE})
    tables = {"objects": ("bucket", "key"), "blob_garbage": ("blob_id",)}
    ddl = (
        """CREATE TABLE IF NOT EXISTS objects (
            bucket TEXT COLLATE BINARY NOT NULL,
            key TEXT COLLATE BINARY NOT NULL,
            blob_id TEXT NOT NULL,
            size BIGINT NOT NULL,
            etag TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL,
            metadata TEXT NOT NULL,
            replicas TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (bucket, key)
        )""",
        """CREATE TABLE IF NOT EXISTS blob_garbage (
            blob_id TEXT COLLATE BINARY PRIMARY KEY,
            replicas TEXT NOT NULL,
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            seq BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS blob_garbage_by_seq ON blob_garbage (seq)",
    )

    async def apply(self, stored: Stored, tx: Tx) -> None:
        await self.apply_batch([stored], tx)

    async def apply_batch(self, events: Sequence[Stored], tx: Tx) -> None:
        # Replays the batch in memory over the rows it touches, then writes the net result in
        # three executemany calls: the same rows as applying event by event, far fewer trips.
        touched: dict[ObjectKey, None] = {}
        for stored in events:
            data = stored.envelope.data
            if isinstance(data, s3.ObjectPut | s3.ObjectDeleted):
                touched[(data.bucket, data.key)] = None
        if not touched:
            return
        live: dict[ObjectKey, Live | None] = await self._load(tx, list(touched))
        upserts: dict[ObjectKey, tuple[Any, ...]] = {}
        garbage: list[tuple[Any, ...]] = []
        for stored in events:
            data = stored.envelope.data
            if isinstance(data, s3.ObjectPut):
                k = (data.bucket, data.key)
                old = live.get(k)
                if old is not None and old[0] != data.blob_id:
                    garbage.append((old[0], old[1], data.bucket, data.key, stored.seq))
                replicas = to_json(data.replicas)
                live[k] = (data.blob_id, replicas)
                upserts[k] = (
                    data.bucket, data.key, data.blob_id, data.size, data.etag, data.sha256,
                    data.content_type, to_json(data.metadata), replicas,
                    iso(stored.envelope.at), stored.seq,
                )
            elif isinstance(data, s3.ObjectDeleted):
                k = (data.bucket, data.key)
                old = live.get(k)
                if old is not None:
                    garbage.append((old[0], old[1], data.bucket, data.key, stored.seq))
                live[k] = None
                upserts.pop(k, None)
        gone = [k for k, v in live.items() if v is None]
        if gone:
            await tx.executemany("DELETE FROM objects WHERE bucket = $1 AND key = $2", gone)
        if upserts:
            await tx.executemany(_UPSERT_SQL, list(upserts.values()))
        if garbage:
            await tx.executemany(_GARBAGE_SQL, garbage)

    async def _load(self, tx: Tx, keys: list[ObjectKey]) -> dict[ObjectKey, Live | None]:
        found: dict[ObjectKey, Live | None] = dict.fromkeys(keys)
        for i in range(0, len(keys), _LOOKUP_PAIRS):
            chunk = keys[i : i + _LOOKUP_PAIRS]
            chunk += [chunk[-1]] * (_LOOKUP_PAIRS - len(chunk))
            args = [part for pair in chunk for part in pair]
            for row in await tx.fetch(_LOOKUP_SQL, *args):
                found[(row["bucket"], row["key"])] = (row["blob_id"], row["replicas"])
        return found


class CommandsProjection(Projection):
    """The outcome of every command, keyed by command id: the first event it caused decides."""

    name = "commands"
    event_types = frozenset(m.TYPE for m in s3.EVENTS)
    tables = {"command_outcomes": ("command_id",)}
    ddl = (
        """CREATE TABLE IF NOT EXISTS command_outcomes (
            command_id TEXT COLLATE BINARY PRIMARY KEY,
            seq BIGINT NOT NULL,
            type TEXT NOT NULL,
            ok INTEGER NOT NULL,
            code TEXT,
            message TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
    )

    async def apply(self, stored: Stored, tx: Tx) -> None:
        await self.apply_batch([stored], tx)

    async def apply_batch(self, events: Sequence[Stored], tx: Tx) -> None:
        rows = []
        for stored in events:
            o = outcome(stored)
            if o is not None:
                env = stored.envelope
                rows.append((
                    o["command_id"], o["seq"], o["type"], int(o["ok"]), o["code"], o["message"],
                    env.actor, iso(env.at),
                ))
        if rows:
            await tx.executemany(
                """INSERT INTO command_outcomes
                    (command_id, seq, type, ok, code, message, actor, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (command_id) DO NOTHING""",
                rows,
            )

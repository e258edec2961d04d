"""Read models of the s3 service: buckets, objects (and the blobs they orphan), command outcomes.

Text columns that S3 lists are ``COLLATE BINARY`` (``"C"`` on PostgreSQL): S3 orders keys by their
UTF-8 bytes, which for valid UTF-8 is code point order.
"""

from __future__ import annotations

from collections.abc import Sequence

from bus.log import Stored
from events import iam, s3
from projections import blobs
from projections.base import Projection, iso, outcome, to_json
from projections.db import Tx


class BucketsProjection(Projection):
    name = "buckets"
    schema_version = 4  # 4: tags
    event_types = frozenset(
        m.TYPE
        for m in (
            s3.BucketCreated,
            s3.BucketDeleted,
            s3.BucketVersioningChanged,
            s3.BucketCorsChanged,
            s3.BucketPolicyChanged,
            s3.BucketTagsChanged,
        )
    )
    tables = {"buckets": ("name",)}
    ddl = (
        """CREATE TABLE IF NOT EXISTS buckets (
            name TEXT COLLATE BINARY PRIMARY KEY,
            region TEXT NOT NULL,
            owner TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_seq BIGINT NOT NULL,
            versioning TEXT,
            cors TEXT,
            policy TEXT,
            tags TEXT
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
                    created_at = excluded.created_at, created_seq = excluded.created_seq,
                    versioning = NULL, cors = NULL, policy = NULL, tags = NULL""",
                data.bucket,
                data.region,
                data.owner,
                iso(stored.envelope.at),
                stored.seq,
            )
        elif isinstance(data, s3.BucketDeleted):
            await tx.execute("DELETE FROM buckets WHERE name = $1", data.bucket)
        elif isinstance(data, s3.BucketVersioningChanged):
            await tx.execute(
                "UPDATE buckets SET versioning = $2 WHERE name = $1", data.bucket, data.status
            )
        elif isinstance(data, s3.BucketPolicyChanged):
            await tx.execute(
                "UPDATE buckets SET policy = $2 WHERE name = $1", data.bucket, data.document
            )
        elif isinstance(data, s3.BucketCorsChanged):
            await tx.execute(
                "UPDATE buckets SET cors = $2 WHERE name = $1",
                data.bucket,
                to_json(data.rules) if data.rules else None,
            )
        elif isinstance(data, s3.BucketTagsChanged):
            await tx.execute(
                "UPDATE buckets SET tags = $2 WHERE name = $1",
                data.bucket,
                to_json(data.tags) if data.tags else None,
            )


_VERSION_COLUMNS = (
    "bucket, key, version_id, seq, is_latest, is_delete_marker, blob_id, parts, size, etag, "
    "sha256, content_type, metadata, headers, checksums, tags, replicas, last_modified"
)
_OBJECT_COLUMNS = (
    "bucket, key, version_id, blob_id, parts, size, etag, sha256, content_type, metadata, "
    "headers, checksums, tags, replicas, last_modified, seq"
)
_UPSERT_VERSION = f"""INSERT INTO object_versions ({_VERSION_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
    ON CONFLICT (bucket, key, version_id) DO UPDATE SET seq = excluded.seq,
        is_latest = excluded.is_latest, is_delete_marker = excluded.is_delete_marker,
        blob_id = excluded.blob_id, parts = excluded.parts, size = excluded.size,
        etag = excluded.etag, sha256 = excluded.sha256, content_type = excluded.content_type,
        metadata = excluded.metadata, headers = excluded.headers, checksums = excluded.checksums,
        tags = excluded.tags, replicas = excluded.replicas,
        last_modified = excluded.last_modified"""
_UPSERT_OBJECT = f"""INSERT INTO objects ({_OBJECT_COLUMNS})
    SELECT {_OBJECT_COLUMNS} FROM object_versions
    WHERE bucket = $1 AND key = $2 AND version_id = $3
    ON CONFLICT (bucket, key) DO UPDATE SET version_id = excluded.version_id,
        blob_id = excluded.blob_id, parts = excluded.parts, size = excluded.size,
        etag = excluded.etag, sha256 = excluded.sha256, content_type = excluded.content_type,
        metadata = excluded.metadata, headers = excluded.headers, checksums = excluded.checksums,
        tags = excluded.tags, replicas = excluded.replicas, last_modified = excluded.last_modified,
        seq = excluded.seq"""
_NOT_LATEST = (
    "UPDATE object_versions SET is_latest = 0 WHERE bucket = $1 AND key = $2 AND is_latest = 1"
)


class ObjectsProjection(Projection):
    """Every version of every object (``object_versions``), the live one per key (``objects``),
    multipart uploads in progress and their parts, and reference counts of stored blobs: a copy or
    a completed multipart upload shares bytes, so a blob becomes garbage (``blob_garbage``, with
    the sequence of the event that freed it) only when nothing references it any more. Blob
    bookkeeping (reference counts, replica sets, caught-up replicas) is in projections/blobs.py."""

    name = "objects"
    schema_version = 3  # 3: blob digests, sizes and replica counts; version_blobs; ReplicaAdded
    event_types = frozenset(
        m.TYPE
        for m in (
            s3.ObjectPut,
            s3.ObjectDeleted,
            s3.DeleteMarkerPut,
            s3.ObjectTagsSet,
            s3.MultipartUploadCreated,
            s3.PartUploaded,
            s3.MultipartUploadCompleted,
            s3.MultipartUploadAborted,
            s3.BucketDeleted,
            s3.ReplicaAdded,
        )
    )
    tables = {
        "objects": ("bucket", "key"),
        "object_versions": ("bucket", "key", "version_id"),
        "uploads": ("bucket", "upload_id"),
        "upload_parts": ("bucket", "upload_id", "part_number"),
        **blobs.TABLES,
    }
    _object_columns = """
            version_id TEXT NOT NULL,
            blob_id TEXT NOT NULL,
            parts TEXT,
            size BIGINT NOT NULL,
            etag TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL,
            metadata TEXT NOT NULL,
            headers TEXT NOT NULL,
            checksums TEXT NOT NULL,
            tags TEXT NOT NULL,
            replicas TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            seq BIGINT NOT NULL"""
    ddl = (
        f"""CREATE TABLE IF NOT EXISTS objects (
            bucket TEXT COLLATE BINARY NOT NULL,
            key TEXT COLLATE BINARY NOT NULL,{_object_columns},
            PRIMARY KEY (bucket, key)
        )""",
        f"""CREATE TABLE IF NOT EXISTS object_versions (
            bucket TEXT COLLATE BINARY NOT NULL,
            key TEXT COLLATE BINARY NOT NULL,
            is_latest INTEGER NOT NULL,
            is_delete_marker INTEGER NOT NULL,{_object_columns},
            PRIMARY KEY (bucket, key, version_id)
        )""",
        "CREATE INDEX IF NOT EXISTS object_versions_by_seq ON object_versions (bucket, key, seq)",
        """CREATE TABLE IF NOT EXISTS uploads (
            bucket TEXT COLLATE BINARY NOT NULL,
            upload_id TEXT COLLATE BINARY NOT NULL,
            key TEXT COLLATE BINARY NOT NULL,
            initiator TEXT NOT NULL,
            initiated TEXT NOT NULL,
            content_type TEXT NOT NULL,
            metadata TEXT NOT NULL,
            headers TEXT NOT NULL,
            tags TEXT NOT NULL,
            checksum_algorithm TEXT,
            seq BIGINT NOT NULL,
            PRIMARY KEY (bucket, upload_id)
        )""",
        """CREATE TABLE IF NOT EXISTS upload_parts (
            bucket TEXT COLLATE BINARY NOT NULL,
            upload_id TEXT COLLATE BINARY NOT NULL,
            part_number INTEGER NOT NULL,
            blob_id TEXT NOT NULL,
            size BIGINT NOT NULL,
            etag TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            checksums TEXT NOT NULL,
            replicas TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (bucket, upload_id, part_number)
        )""",
        *blobs.DDL,
    )

    async def apply(self, stored: Stored, tx: Tx) -> None:
        data = stored.envelope.data
        if isinstance(data, s3.ObjectPut):
            await self._put(stored, data, tx)
        elif isinstance(data, s3.DeleteMarkerPut):
            await self._marker(stored, data, tx)
        elif isinstance(data, s3.ObjectDeleted):
            await self._delete_version(stored, data, tx)
        elif isinstance(data, s3.ObjectTagsSet):
            tags = to_json(data.tags)
            await tx.execute(
                """UPDATE object_versions SET tags = $4
                WHERE bucket = $1 AND key = $2 AND version_id = $3""",
                data.bucket,
                data.key,
                data.version_id,
                tags,
            )
            await tx.execute(
                "UPDATE objects SET tags = $4 WHERE bucket = $1 AND key = $2 AND version_id = $3",
                data.bucket,
                data.key,
                data.version_id,
                tags,
            )
        elif isinstance(data, s3.MultipartUploadCreated):
            await tx.execute(
                """INSERT INTO uploads (bucket, upload_id, key, initiator, initiated, content_type,
                    metadata, headers, tags, checksum_algorithm, seq)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (bucket, upload_id) DO NOTHING""",
                data.bucket,
                data.upload_id,
                data.key,
                data.initiator,
                iso(stored.envelope.at),
                data.content_type,
                to_json(data.metadata),
                to_json(data.headers),
                to_json(data.tags),
                data.checksum_algorithm,
                stored.seq,
            )
        elif isinstance(data, s3.PartUploaded):
            await self._part(stored, data, tx)
        elif isinstance(data, s3.MultipartUploadCompleted | s3.MultipartUploadAborted):
            await self._close_upload(stored, data.bucket, data.upload_id, tx)
        elif isinstance(data, s3.BucketDeleted):
            for row in await tx.fetch(
                "SELECT upload_id FROM uploads WHERE bucket = $1", data.bucket
            ):
                await self._close_upload(stored, data.bucket, row["upload_id"], tx)
        elif isinstance(data, s3.ReplicaAdded):
            await blobs.replica_added(data, tx)

    async def _put(self, stored: Stored, data: s3.ObjectPut, tx: Tx) -> None:
        known = await blobs.incref(blobs.of_put(data), tx)
        parts, replicas = blobs.version_replicas(data, known)
        await self._forget_version(stored, data.bucket, data.key, data.version_id, tx)
        await blobs.link(data, tx)
        await tx.execute(
            _NOT_LATEST,
            data.bucket,
            data.key,
        )
        await tx.execute(
            _UPSERT_VERSION,
            data.bucket,
            data.key,
            data.version_id,
            stored.seq,
            1,
            0,
            data.blob_id,
            parts,
            data.size,
            data.etag,
            data.sha256,
            data.content_type,
            to_json(data.metadata),
            to_json(data.headers),
            to_json(data.checksums),
            to_json(data.tags),
            replicas,
            iso(stored.envelope.at),
        )
        await tx.execute(_UPSERT_OBJECT, data.bucket, data.key, data.version_id)

    async def _marker(self, stored: Stored, data: s3.DeleteMarkerPut, tx: Tx) -> None:
        await self._forget_version(stored, data.bucket, data.key, data.version_id, tx)
        await tx.execute(
            _NOT_LATEST,
            data.bucket,
            data.key,
        )
        await tx.execute(
            _UPSERT_VERSION,
            data.bucket,
            data.key,
            data.version_id,
            stored.seq,
            1,
            1,
            "",
            None,
            0,
            "",
            "",
            "",
            "{}",
            "{}",
            "{}",
            "{}",
            "[]",
            iso(stored.envelope.at),
        )
        await tx.execute(
            "DELETE FROM objects WHERE bucket = $1 AND key = $2", data.bucket, data.key
        )

    async def _delete_version(self, stored: Stored, data: s3.ObjectDeleted, tx: Tx) -> None:
        was_latest = await self._forget_version(stored, data.bucket, data.key, data.version_id, tx)
        if not was_latest:
            return
        await tx.execute(
            "DELETE FROM objects WHERE bucket = $1 AND key = $2", data.bucket, data.key
        )
        newest = await tx.fetchrow(
            """SELECT version_id, is_delete_marker FROM object_versions
            WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1""",
            data.bucket,
            data.key,
        )
        if newest is None:
            return
        await tx.execute(
            """UPDATE object_versions SET is_latest = 1
            WHERE bucket = $1 AND key = $2 AND version_id = $3""",
            data.bucket,
            data.key,
            newest["version_id"],
        )
        if not newest["is_delete_marker"]:
            await tx.execute(_UPSERT_OBJECT, data.bucket, data.key, newest["version_id"])

    async def _forget_version(
        self, stored: Stored, bucket: str, key: str, version_id: str, tx: Tx
    ) -> bool:
        """Drop a version row (releasing its blobs); returns whether it was the latest."""
        row = await tx.fetchrow(
            """SELECT blob_id, parts, is_latest FROM object_versions
            WHERE bucket = $1 AND key = $2 AND version_id = $3""",
            bucket,
            key,
            version_id,
        )
        if row is None:
            return False
        await tx.execute(
            "DELETE FROM object_versions WHERE bucket = $1 AND key = $2 AND version_id = $3",
            bucket,
            key,
            version_id,
        )
        await blobs.unlink(bucket, key, version_id, tx)
        freed = blobs.blob_ids(row["blob_id"], row["parts"])
        await blobs.decref(freed, bucket, key, stored.seq, tx)
        return bool(row["is_latest"])

    async def _part(self, stored: Stored, data: s3.PartUploaded, tx: Tx) -> None:
        old = await tx.fetchrow(
            """SELECT blob_id FROM upload_parts
            WHERE bucket = $1 AND upload_id = $2 AND part_number = $3""",
            data.bucket,
            data.upload_id,
            data.part_number,
        )
        ref = blobs.BlobRef(data.blob_id, data.sha256, data.size, list(data.replicas))
        replicas = to_json((await blobs.incref([ref], tx))[data.blob_id])
        if old is not None:
            await blobs.decref([old["blob_id"]], data.bucket, data.key, stored.seq, tx)
        await tx.execute(
            """INSERT INTO upload_parts (bucket, upload_id, part_number, blob_id, size, etag,
                sha256, checksums, replicas, last_modified, seq)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (bucket, upload_id, part_number) DO UPDATE SET blob_id = excluded.blob_id,
                size = excluded.size, etag = excluded.etag, sha256 = excluded.sha256,
                checksums = excluded.checksums, replicas = excluded.replicas,
                last_modified = excluded.last_modified, seq = excluded.seq""",
            data.bucket,
            data.upload_id,
            data.part_number,
            data.blob_id,
            data.size,
            data.etag,
            data.sha256,
            to_json(data.checksums),
            replicas,
            iso(stored.envelope.at),
            stored.seq,
        )

    async def _close_upload(self, stored: Stored, bucket: str, upload_id: str, tx: Tx) -> None:
        """The upload lets go of its parts; those a completed object uses keep its reference."""
        upload = await tx.fetchrow(
            "SELECT key FROM uploads WHERE bucket = $1 AND upload_id = $2", bucket, upload_id
        )
        if upload is None:
            return
        parts = await tx.fetch(
            "SELECT blob_id FROM upload_parts WHERE bucket = $1 AND upload_id = $2",
            bucket,
            upload_id,
        )
        await blobs.decref([p["blob_id"] for p in parts], bucket, upload["key"], stored.seq, tx)
        await tx.execute(
            "DELETE FROM upload_parts WHERE bucket = $1 AND upload_id = $2", bucket, upload_id
        )
        await tx.execute(
            "DELETE FROM uploads WHERE bucket = $1 AND upload_id = $2", bucket, upload_id
        )


class CommandsProjection(Projection):
    """The outcome of every command, keyed by command id: the first event it caused decides."""

    name = "commands"
    event_types = frozenset(m.TYPE for m in (*s3.EVENTS, *iam.EVENTS))
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
                rows.append(
                    (
                        o["command_id"],
                        o["seq"],
                        o["type"],
                        int(o["ok"]),
                        o["code"],
                        o["message"],
                        env.actor,
                        iso(env.at),
                    )
                )
        if rows:
            await tx.executemany(
                """INSERT INTO command_outcomes
                    (command_id, seq, type, ok, code, message, actor, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (command_id) DO NOTHING""",
                rows,
            )

"""Stored blobs in the objects read model: reference counts, replica sets, who references them.

``blob_refs`` has one row per live blob (referenced by an object version, a copy, a part of a
multipart object or a part of an upload in progress) with its digest, size and replica set; the
replicator and the scrubber work from it. ``version_blobs`` says which versions reference a blob,
so a caught-up replica (``s3.ReplicaAdded``) reaches every row that lists it.

Invariant: every row that lists a live blob's replicas (``object_versions``, ``objects``, the
parts inside them, ``upload_parts``) lists the same set as ``blob_refs``. New references merge
what their event says with what is already known (a copy's event carries the replicas its
source had when the copy was decided), and a caught-up replica is added everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from events import s3
from projections.base import from_json, to_json
from projections.db import Tx
from storage.replicas import common, merged, with_replica

DDL = (
    """CREATE TABLE IF NOT EXISTS blob_refs (
        blob_id TEXT COLLATE BINARY PRIMARY KEY,
        refs BIGINT NOT NULL,
        replicas TEXT NOT NULL,
        copies INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL
    )""",
    # The replicator asks for blobs with fewer copies than there are sidecars: few, normally.
    "CREATE INDEX IF NOT EXISTS blob_refs_by_copies ON blob_refs (copies)",
    """CREATE TABLE IF NOT EXISTS blob_garbage (
        blob_id TEXT COLLATE BINARY PRIMARY KEY,
        replicas TEXT NOT NULL,
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        seq BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS blob_garbage_by_seq ON blob_garbage (seq)",
    """CREATE TABLE IF NOT EXISTS version_blobs (
        blob_id TEXT COLLATE BINARY NOT NULL,
        bucket TEXT COLLATE BINARY NOT NULL,
        key TEXT COLLATE BINARY NOT NULL,
        version_id TEXT COLLATE BINARY NOT NULL,
        PRIMARY KEY (blob_id, bucket, key, version_id)
    )""",
    """CREATE INDEX IF NOT EXISTS version_blobs_by_version
        ON version_blobs (bucket, key, version_id)""",
    "CREATE INDEX IF NOT EXISTS upload_parts_by_blob ON upload_parts (blob_id)",
)
TABLES = {
    "blob_refs": ("blob_id",),
    "blob_garbage": ("blob_id",),
    "version_blobs": ("blob_id", "bucket", "key", "version_id"),
}


@dataclass(frozen=True, slots=True)
class BlobRef:
    blob_id: str
    sha256: str
    size: int
    replicas: list[str]


def of_put(data: s3.ObjectPut) -> list[BlobRef]:
    """The blobs an object version references: its parts, or its one blob."""
    if data.parts:
        return [BlobRef(p.blob_id, p.sha256, p.size, list(p.replicas)) for p in data.parts]
    if not data.blob_id:
        return []
    return [BlobRef(data.blob_id, data.sha256, data.size, list(data.replicas))]


def blob_ids(blob_id: str, parts_json: str | None) -> list[str]:
    parts = from_json(parts_json) or []
    return [p["blob_id"] for p in parts] if parts else ([blob_id] if blob_id else [])


async def incref(refs: list[BlobRef], tx: Tx) -> dict[str, list[str]]:
    """Count one more reference to each blob; returns each blob's replica set as now known."""
    known: dict[str, list[str]] = {}
    for ref in refs:
        row = await tx.fetchrow(
            "SELECT replicas, sha256 FROM blob_refs WHERE blob_id = $1", ref.blob_id
        )
        if row is None:
            replicas = list(ref.replicas)
            await tx.execute(
                """INSERT INTO blob_refs (blob_id, refs, replicas, copies, sha256, size)
                VALUES ($1, 1, $2, $3, $4, $5)""",
                ref.blob_id,
                to_json(replicas),
                len(replicas),
                ref.sha256,
                ref.size,
            )
        else:
            replicas = merged(from_json(row["replicas"]), ref.replicas)
            await tx.execute(
                """UPDATE blob_refs SET refs = refs + 1, replicas = $2, copies = $3, sha256 = $4
                WHERE blob_id = $1""",
                ref.blob_id,
                to_json(replicas),
                len(replicas),
                row["sha256"] or ref.sha256,  # old multipart events carry parts without digest
            )
        known[ref.blob_id] = replicas
    return known


async def decref(blobs: list[str], bucket: str, key: str, seq: int, tx: Tx) -> None:
    """Count one reference less; a blob nothing references any more becomes garbage."""
    for blob_id in blobs:
        row = await tx.fetchrow("SELECT refs, replicas FROM blob_refs WHERE blob_id = $1", blob_id)
        if row is None:
            continue
        if int(row["refs"]) > 1:
            await tx.execute("UPDATE blob_refs SET refs = refs - 1 WHERE blob_id = $1", blob_id)
            continue
        await tx.execute("DELETE FROM blob_refs WHERE blob_id = $1", blob_id)
        await tx.execute(
            """INSERT INTO blob_garbage (blob_id, replicas, bucket, key, seq)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (blob_id) DO NOTHING""",
            blob_id,
            row["replicas"],
            bucket,
            key,
            seq,
        )


def version_replicas(data: s3.ObjectPut, known: dict[str, list[str]]) -> tuple[str | None, str]:
    """The ``parts`` and ``replicas`` columns of a version row, with the replica sets as known."""
    if not data.parts:
        return None, to_json(known.get(data.blob_id, list(data.replicas)))
    parts = [p.model_dump() | {"replicas": known[p.blob_id]} for p in data.parts]
    return to_json(parts), to_json(common(p["replicas"] for p in parts))


async def link(data: s3.ObjectPut, tx: Tx) -> None:
    if not of_put(data):
        return
    await tx.executemany(
        """INSERT INTO version_blobs (blob_id, bucket, key, version_id) VALUES ($1, $2, $3, $4)
        ON CONFLICT (blob_id, bucket, key, version_id) DO NOTHING""",
        [(ref.blob_id, data.bucket, data.key, data.version_id) for ref in of_put(data)],
    )


async def unlink(bucket: str, key: str, version_id: str, tx: Tx) -> None:
    await tx.execute(
        "DELETE FROM version_blobs WHERE bucket = $1 AND key = $2 AND version_id = $3",
        bucket,
        key,
        version_id,
    )


async def replica_added(data: s3.ReplicaAdded, tx: Tx) -> None:
    """Add the sidecar to the blob's replica set wherever it is listed."""
    ref = await tx.fetchrow("SELECT replicas FROM blob_refs WHERE blob_id = $1", data.blob_id)
    if ref is None:
        return  # no longer referenced: nothing reads its replicas any more
    replicas = with_replica(from_json(ref["replicas"]), data.sidecar)
    await tx.execute(
        "UPDATE blob_refs SET replicas = $2, copies = $3 WHERE blob_id = $1",
        data.blob_id,
        to_json(replicas),
        len(replicas),
    )
    versions = await tx.fetch(
        "SELECT bucket, key, version_id FROM version_blobs WHERE blob_id = $1", data.blob_id
    )
    for v in versions:
        pk = (v["bucket"], v["key"], v["version_id"])
        row = await tx.fetchrow(
            """SELECT parts, replicas FROM object_versions
            WHERE bucket = $1 AND key = $2 AND version_id = $3""",
            *pk,
        )
        if row is None:
            continue
        parts_json, replicas_json = _with_replica(row["parts"], row["replicas"], data)
        for table in ("object_versions", "objects"):
            await tx.execute(
                f"""UPDATE {table} SET parts = $4, replicas = $5
                WHERE bucket = $1 AND key = $2 AND version_id = $3""",
                *pk,
                parts_json,
                replicas_json,
            )
    for part in await tx.fetch(
        "SELECT bucket, upload_id, part_number, replicas FROM upload_parts WHERE blob_id = $1",
        data.blob_id,
    ):
        await tx.execute(
            """UPDATE upload_parts SET replicas = $4
            WHERE bucket = $1 AND upload_id = $2 AND part_number = $3""",
            part["bucket"],
            part["upload_id"],
            part["part_number"],
            to_json(with_replica(from_json(part["replicas"]), data.sidecar)),
        )


def _with_replica(
    parts_json: str | None, replicas_json: str, data: s3.ReplicaAdded
) -> tuple[str | None, str]:
    parts = from_json(parts_json) or []
    if not parts:
        return parts_json, to_json(with_replica(from_json(replicas_json), data.sidecar))
    for part in parts:
        if part["blob_id"] == data.blob_id:
            part["replicas"] = with_replica(part.get("replicas") or [], data.sidecar)
    return to_json(parts), to_json(common(p.get("replicas") or [] for p in parts))

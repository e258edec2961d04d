"""State of s3 aggregates, folded from their events (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bus.log import Stored
from events.envelope import Envelope
from events.s3 import (
    BucketCorsChanged,
    BucketCreated,
    BucketDeleted,
    BucketPolicyChanged,
    BucketTagsChanged,
    BucketVersioningChanged,
    DeleteMarkerPut,
    MultipartUploadAborted,
    MultipartUploadCompleted,
    MultipartUploadCreated,
    ObjectDeleted,
    ObjectPut,
    ObjectTagsSet,
    PartUploaded,
    ReplicaAdded,
)


@dataclass
class Bucket:
    seq: int = 0
    """Sequence of the newest event on the bucket's state subject (0: none)."""
    exists: bool = False
    owner: str | None = None
    region: str = "us-east-1"
    versioning: str | None = None
    cors: list[dict[str, Any]] = field(default_factory=list)
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    last: Envelope | None = None


def fold_bucket(events: list[Stored]) -> Bucket:
    b = Bucket()
    for stored in events:
        data = stored.envelope.data
        b.seq, b.last = stored.seq, stored.envelope
        if isinstance(data, BucketCreated):
            b.exists, b.owner, b.region, b.versioning, b.cors, b.tags = (
                True,
                data.owner,
                data.region,
                None,
                [],
                {},
            )
        elif isinstance(data, BucketDeleted):
            b.exists = False
        elif isinstance(data, BucketVersioningChanged):
            b.versioning = data.status
        elif isinstance(data, BucketCorsChanged):
            b.cors = list(data.rules)
        elif isinstance(data, BucketPolicyChanged):
            b.policy = data.document
        elif isinstance(data, BucketTagsChanged):
            b.tags = dict(data.tags)
    return b


@dataclass
class Version:
    version_id: str
    put: ObjectPut | None  # None: a delete marker
    tags: dict[str, str]
    seq: int

    @property
    def is_marker(self) -> bool:
        return self.put is None


@dataclass
class Object:
    seq: int = 0
    """Sequence of the newest event on the object's subject (0: none)."""
    versions: dict[str, Version] = field(default_factory=dict)
    """By version id, oldest first (insertion order follows the log)."""
    last: Envelope | None = None

    @property
    def latest(self) -> Version | None:
        return max(self.versions.values(), key=lambda v: v.seq, default=None)

    def version(self, version_id: str | None) -> Version | None:
        """The named version, or the latest when ``version_id`` is None."""
        return self.latest if version_id is None else self.versions.get(version_id)


def fold_object(events: list[Stored]) -> Object:
    o = Object()
    for stored in events:
        data = stored.envelope.data
        if isinstance(data, ReplicaAdded):
            # Not a command's outcome, so ``last`` (what a redelivered command recognises as its
            # own) stays; ``seq`` moves, since appends guarded by this subject must see it.
            o.seq = stored.seq
            _add_replica(o, data)
            continue
        o.seq, o.last = stored.seq, stored.envelope
        if isinstance(data, ObjectPut):
            o.versions.pop(data.version_id, None)
            o.versions[data.version_id] = Version(
                data.version_id, data, dict(data.tags), stored.seq
            )
        elif isinstance(data, DeleteMarkerPut):
            o.versions.pop(data.version_id, None)
            o.versions[data.version_id] = Version(data.version_id, None, {}, stored.seq)
        elif isinstance(data, ObjectDeleted):
            o.versions.pop(data.version_id, None)
        elif isinstance(data, ObjectTagsSet) and data.version_id in o.versions:
            o.versions[data.version_id].tags = dict(data.tags)
    return o


def _add_replica(o: Object, data: ReplicaAdded) -> None:
    """Copies of a version share its blobs: they should name the caught-up replica too."""
    for version in o.versions.values():
        put = version.put
        if put is None:
            continue
        if put.blob_id == data.blob_id and data.sidecar not in put.replicas:
            version.put = put.model_copy(update={"replicas": [*put.replicas, data.sidecar]})
        elif any(p.blob_id == data.blob_id for p in put.parts):
            parts = [
                p.model_copy(update={"replicas": [*p.replicas, data.sidecar]})
                if p.blob_id == data.blob_id and data.sidecar not in p.replicas
                else p
                for p in put.parts
            ]
            common = set.intersection(*(set(p.replicas) for p in parts))
            version.put = put.model_copy(update={"parts": parts, "replicas": sorted(common)})


@dataclass
class Upload:
    seq: int = 0
    """Sequence of the newest event anywhere under the upload (state and parts)."""
    state_seq: int = 0
    """Sequence of the newest event on the upload's state subject."""
    created: MultipartUploadCreated | None = None
    parts: dict[int, PartUploaded] = field(default_factory=dict)
    closed: Envelope | None = None

    @property
    def is_open(self) -> bool:
        return self.created is not None and self.closed is None


def fold_upload(events: list[Stored]) -> Upload:
    u = Upload()
    for stored in events:
        data = stored.envelope.data
        u.seq = stored.seq
        if isinstance(data, MultipartUploadCreated):
            u.created, u.state_seq = data, stored.seq
        elif isinstance(data, PartUploaded):
            u.parts[data.part_number] = data
        elif isinstance(data, MultipartUploadCompleted | MultipartUploadAborted):
            u.closed, u.state_seq = stored.envelope, stored.seq
    return u


def has_versions(events: list[Stored]) -> bool:
    """Whether any version or delete marker is left after these object events."""
    alive: set[tuple[str, str]] = set()
    for stored in events:
        data = stored.envelope.data
        if isinstance(data, ObjectPut | DeleteMarkerPut):
            alive.add((data.key, data.version_id))
        elif isinstance(data, ObjectDeleted):
            alive.discard((data.key, data.version_id))
    return bool(alive)

"""The s3 handler process: fold state from the log, decide, store bytes, append (handlers/base.py
runs the loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from bus import subjects
from bus.errors import ConcurrencyConflict, NotFoundInLog
from bus.log import Bus
from events.envelope import Envelope, Message
from events.s3 import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CopyObject,
    CreateBucket,
    CreateMultipartUpload,
    DeleteBucket,
    DeleteObject,
    ObjectPut,
    PartUploaded,
    PutBucketCors,
    PutBucketPolicy,
    PutBucketTagging,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
    UploadPart,
)
from handlers.base import CommandHandler
from handlers.decision import Append, Decision, Reject
from handlers.s3 import decide
from handlers.s3.state import (
    Bucket,
    Object,
    Upload,
    fold_bucket,
    fold_object,
    fold_upload,
    has_versions,
)
from handlers.s3.storing import BlobWriter, QuorumNotMet
from storage import DigestMismatch, Sidecar

log = structlog.get_logger("handler.s3")


class S3Handler(CommandHandler):
    service = "s3"

    def __init__(
        self, bus: Bus, sidecars: list[Sidecar], *, write_quorum: int, concurrency: int = 64
    ) -> None:
        super().__init__(bus, concurrency=concurrency)
        self.blobs = BlobWriter(bus, sidecars, write_quorum)
        self._buckets: dict[str, Bucket] = {}
        self._keys: dict[str, _KeyLock] = {}

    def validate(self, command: Envelope) -> Reject | None:
        return decide.validate(command)

    def rejection(self, command: Envelope, decision: Reject) -> tuple[str, Message]:
        return subjects.S3_REJECTED, decide.reject(command, decision)

    async def process(self, command: Envelope) -> int:
        """Conditional writes to one key are decided one at a time here: the guard on the key's
        subject already makes racing ones exclusive, but a loser would have stored its bytes
        before its append failed and it was decided again (and refused)."""
        data = command.data
        if not decide.is_conditional(data):
            return await super().process(command)
        assert isinstance(data, PutObject | CopyObject | CompleteMultipartUpload)
        async with self._one_writer(subjects.object_(data.bucket, data.key)):
            return await super().process(command)

    @asynccontextmanager
    async def _one_writer(self, subject: str) -> AsyncIterator[None]:
        entry = self._keys.setdefault(subject, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if not entry.users:
                del self._keys[subject]

    async def _decide(self, command: Envelope) -> Decision:
        data = command.data
        if isinstance(data, CreateBucket):
            return decide.create_bucket(command, await self._bucket(data.bucket))
        # Only appends guarded by the bucket's state subject may decide on cached bucket state;
        # a conditional write's append is guarded by its key's subject instead.
        conditional = decide.is_conditional(data)
        guarded = not conditional and isinstance(
            data, PutObject | CopyObject | CreateMultipartUpload | CompleteMultipartUpload
        )
        tail = 0  # a conditional write: the bucket's newest sequence, read before its state
        if conditional:
            newest = await self.bus.last(subjects.bucket_all(data.bucket))  # type: ignore[attr-defined]
            tail = newest.seq if newest else 0
        bucket = await self._bucket(data.bucket, fresh=not guarded)  # type: ignore[attr-defined]
        target = None  # the written key's state, which a conditional write is decided on
        if conditional:
            assert isinstance(data, PutObject | CopyObject | CompleteMultipartUpload)
            target = await self._object(data.bucket, bucket, data.key)
            if max(bucket.seq, target.seq) > tail:
                # Written to since `tail` was read: the state is newer than the guard.
                raise ConcurrencyConflict("the bucket changed while the condition was read")
        if isinstance(data, PutObject):
            decision = decide.put_object(command, bucket, target, tail)
            return await self._with_bytes(command, decision, data)
        if isinstance(data, DeleteObject):
            return decide.delete_object(
                command, bucket, await self._object(data.bucket, bucket, data.key)
            )
        if isinstance(data, DeleteBucket):
            return await self._delete_bucket(command, bucket)
        if isinstance(
            data, PutBucketVersioning | PutBucketCors | PutBucketPolicy | PutBucketTagging
        ):
            return decide.bucket_setting(command, bucket)
        if isinstance(data, PutObjectTagging):
            return decide.put_object_tagging(
                command, bucket, await self._object(data.bucket, bucket, data.key)
            )
        if isinstance(data, CopyObject):
            source_bucket = await self._bucket(data.source_bucket, fresh=True)
            if not source_bucket.exists:
                return decide.no_bucket(data.source_bucket)
            source = await self._object(data.source_bucket, source_bucket, data.source_key)
            if conditional and data.source_bucket == data.bucket and source.seq > tail:
                raise ConcurrencyConflict("the bucket changed while the condition was read")
            return decide.copy_object(command, bucket, source, target, tail)
        if isinstance(data, CreateMultipartUpload):
            return decide.create_multipart(command, bucket)
        if isinstance(data, UploadPart):
            return await self._upload_part(command, data, bucket)
        if isinstance(data, CompleteMultipartUpload):
            upload = await self._upload(data.bucket, data.upload_id)
            if conditional and upload.seq > tail:
                raise ConcurrencyConflict("the bucket changed while the condition was read")
            return decide.complete_multipart(command, bucket, upload, target, tail)
        if isinstance(data, AbortMultipartUpload):
            return decide.abort_multipart(command, await self._upload(data.bucket, data.upload_id))
        return Reject("NotImplemented", f"{command.type} is not handled here")

    # ------------------------------------------------------------ state from the log

    async def _bucket(self, name: str, *, fresh: bool = False) -> Bucket:
        """Folded bucket state, cached. A cached state may be stale, which is safe for appends:
        they carry the sequence the decision was based on, and a stale one makes JetStream refuse
        the append (then ``on_conflict`` drops the cache entry). Rejections carry no such check,
        so ``decide`` re-folds before it rejects on cached state."""
        cached = self._buckets.get(name)
        if cached is not None and not fresh:
            return cached
        bucket = fold_bucket(await self.bus.read_subject(subjects.bucket_state(name)))
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        if bucket.seq:
            self._buckets[name] = bucket
        return bucket

    def on_conflict(self, command: Envelope) -> None:
        for field in ("bucket", "source_bucket"):
            name = getattr(command.data, field, None)
            if name is not None:
                self._buckets.pop(name, None)

    async def decide(self, command: Envelope) -> Decision:
        decision = await self._decide(command)
        if isinstance(decision, Reject) and self._used_cache(command):
            self.on_conflict(command)  # never refuse on state that may be stale
            decision = await self._decide(command)
        return decision

    def _used_cache(self, command: Envelope) -> bool:
        return any(
            getattr(command.data, f, None) in self._buckets for f in ("bucket", "source_bucket")
        )

    async def _object(self, name: str, bucket: Bucket, key: str) -> Object:
        subject = subjects.object_(name, key)
        last = await self.bus.last(subject)
        if last is None:
            return Object()
        if bucket.versioning is None and last.envelope.type in ("s3.ObjectPut", "s3.ObjectDeleted"):
            return fold_object([last])  # never versioned: the newest put or delete says it all
        return fold_object(await self.bus.read_subject(subject))

    async def _upload(self, bucket: str, upload_id: str) -> Upload:
        if not _valid_upload_id(upload_id):
            return Upload()
        return fold_upload(await self.bus.read_subject(subjects.upload_all(bucket, upload_id)))

    async def _delete_bucket(self, command: Envelope, bucket: Bucket) -> Decision:
        data = command.data
        assert isinstance(data, DeleteBucket)
        everything = await self.bus.last(subjects.bucket_all(data.bucket))
        non_empty = False
        if bucket.exists and everything is not None:
            history = await self.bus.read_subject(subjects.bucket_objects(data.bucket))
            non_empty = has_versions([s for s in history if s.seq <= everything.seq])
        return decide.delete_bucket(command, bucket, everything.seq if everything else 0, non_empty)

    # ------------------------------------------------------------ bytes

    async def _with_bytes(self, command: Envelope, decision: Decision, data: PutObject) -> Decision:
        """Store the bytes before the event that makes them visible."""
        if not isinstance(decision, Append):
            return decision
        try:
            replicas = await self.blobs.store(data.blob_id, data.sha256, data.inline, data.chunks)
        except DigestMismatch as exc:
            return Reject("BadDigest", str(exc))
        except NotFoundInLog as exc:
            return Reject("IncompleteBody", f"the upload's bytes are gone from the log: {exc}")
        except QuorumNotMet as exc:
            return Reject("SlowDown", str(exc))
        event = decision.data
        assert isinstance(event, ObjectPut | PartUploaded)
        return Append(
            decision.subject,
            event.model_copy(update={"replicas": replicas}),
            decision.expect_seq,
            decision.expect_subject,
        )

    async def _upload_part(self, command: Envelope, data: UploadPart, bucket: Bucket) -> Decision:
        if not bucket.exists:
            return decide.no_bucket(data.bucket)
        upload = await self._upload(data.bucket, data.upload_id)
        if not upload.is_open or upload.created is None or upload.created.key != data.key:
            return decide.no_upload(data.upload_id)
        size, md5, sha256 = data.size, data.md5, data.sha256
        try:
            if data.copy_source is not None:
                copied = await self._copy_range(data)
                if isinstance(copied, Reject):
                    return copied
                size, md5, sha256, replicas = copied
            else:
                replicas = await self.blobs.store(
                    data.blob_id, data.sha256, data.inline, data.chunks
                )
        except DigestMismatch as exc:
            return Reject("BadDigest", str(exc))
        except NotFoundInLog as exc:
            return Reject("IncompleteBody", f"the part's bytes are gone from the log: {exc}")
        except QuorumNotMet as exc:
            return Reject("SlowDown", str(exc))
        event = PartUploaded(
            bucket=data.bucket,
            key=data.key,
            upload_id=data.upload_id,
            part_number=data.part_number,
            blob_id=data.blob_id,
            size=size,
            etag=md5,
            sha256=sha256,
            checksums=data.checksums,
            replicas=replicas,
        )
        return Append(
            subjects.upload_part(data.bucket, data.upload_id, data.part_number),
            event,
            upload.state_seq,
            subjects.upload_state(data.bucket, data.upload_id),
        )

    async def _copy_range(self, data: UploadPart) -> tuple[int, str, str, list[str]] | Reject:
        src = data.copy_source or {}
        source_bucket = await self._bucket(str(src.get("bucket", "")), fresh=True)
        if not source_bucket.exists:
            return decide.no_bucket(str(src.get("bucket")))
        source = await self._object(str(src["bucket"]), source_bucket, str(src["key"]))
        version = source.version(src.get("version_id"))
        if version is None or version.put is None:
            return Reject("NoSuchKey", f"The specified key does not exist: {src['key']}")
        put = version.put
        start = int(src.get("start", 0))
        end = int(src.get("end", put.size - 1))
        if put.size and not 0 <= start <= end < put.size:
            return Reject("InvalidRange", "The x-amz-copy-source-range is not satisfiable.")
        return await self.blobs.copy(put, data.blob_id, start, end - start + 1 if put.size else 0)

    async def after_append(self, command: Envelope, event: Message) -> None:
        """Once every sidecar holds the bytes, the WAL can let go of them."""
        chunked = bool(getattr(command.data, "chunks", None))
        if chunked and isinstance(event, ObjectPut | PartUploaded):
            if self.blobs.fully_replicated(event.replicas):
                await self.blobs.release(event.blob_id)


class _KeyLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def _valid_upload_id(upload_id: str) -> bool:
    return 8 <= len(upload_id) <= 64 and upload_id.isalnum()

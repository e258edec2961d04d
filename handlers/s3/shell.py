"""The s3 handler process: read a command, fold state from the log, decide, store bytes, append.

Every step is idempotent, so a redelivery after a crash at any point converges: blobs are keyed by
the upload's blob id, event appends carry the command id as ``Nats-Msg-Id``, and a command whose
event is already the newest on its aggregate is recognised as applied.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bus import subjects
from bus.errors import BusUnavailable, ConcurrencyConflict, NotFoundInLog
from bus.log import Bus, Delivery
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
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
    UploadPart,
)
from handlers.s3 import decide
from handlers.s3.decide import AlreadyApplied, Append, Appends, Decision, Reject
from handlers.s3.state import Bucket, Object, Upload, fold_bucket, fold_object, fold_upload
from handlers.s3.storing import BlobWriter, QuorumNotMet
from storage import DigestMismatch, DiskSidecar

log = structlog.get_logger("handler.s3")

MAX_CONFLICT_RETRIES = 50
MAX_ATTEMPTS = 8  # deliveries of one command before it is rejected with InternalError
# A command whose handler died is redelivered after ACK_WAIT; a live handler keeps long work (big
# uploads, scans) from timing out by reporting progress every ACK_WAIT / 3.
ACK_WAIT = 5.0


class S3Handler:
    def __init__(
        self, bus: Bus, sidecars: list[DiskSidecar], *, write_quorum: int, concurrency: int = 64
    ) -> None:
        self.bus = bus
        self.blobs = BlobWriter(bus, sidecars, write_quorum)
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._buckets: dict[str, Bucket] = {}

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        queue = await self.bus.commands("s3", durable="handler-s3", ack_wait=ACK_WAIT)
        log.info(
            "handler.started",
            sidecars=[s.name for s in self.blobs.sidecars],
            quorum=self.blobs.write_quorum,
        )
        while not stop.is_set():
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                deliveries = await queue.fetch(min(free, 128), timeout=1.0)
            except Exception as exc:  # connection lost, leader moving: the log is durable, wait
                log.warning("handler.fetch_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)
                continue
            for delivery in deliveries:
                task = asyncio.create_task(self.handle(delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)

    async def handle(self, delivery: Delivery) -> None:
        command = delivery.envelope
        bound = log.bind(command_id=str(command.id), type=command.type, attempt=delivery.attempt)
        ticker = asyncio.create_task(_keep_alive(delivery))
        try:
            seq = await self.process(command)
        except BusUnavailable as exc:
            bound.warning("handler.bus_unavailable", error=str(exc))
            await _quietly(delivery.nak(delay=min(2.0 * delivery.attempt, 10.0)))
            return
        except Exception as exc:
            if delivery.attempt < MAX_ATTEMPTS:
                bound.exception("handler.failed_will_retry")
                await _quietly(delivery.nak(delay=min(0.5 * 2**delivery.attempt, 15.0)))
                return
            # Give up with a recorded reason: the rejection is the command's outcome in the log.
            bound.exception("handler.failed_terminally")
            reason = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                await self._reject(command, Reject("InternalError", reason))
            await _quietly(delivery.term())
            return
        finally:
            ticker.cancel()
        bound.debug("handler.applied", seq=seq)
        await _quietly(delivery.ack())

    async def process(self, command: Envelope) -> int:
        """Decide and apply one command; returns the sequence of its outcome event."""
        problem = decide.validate(command)
        if problem:
            return await self._reject(command, problem)
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                return await self._apply(command, await self._decide(command))
            except ConcurrencyConflict:
                await asyncio.sleep(0)  # someone decided first: reload and decide again
        raise RuntimeError(f"gave up after {MAX_CONFLICT_RETRIES} concurrency conflicts")

    async def _decide(self, command: Envelope) -> Decision:
        data = command.data
        if isinstance(data, CreateBucket):
            return decide.create_bucket(command, await self._bucket(data.bucket))
        bucket = await self._bucket(data.bucket)  # type: ignore[attr-defined]
        if isinstance(data, PutObject):
            decision = decide.put_object(command, bucket)
            return await self._with_bytes(command, decision, data)
        if isinstance(data, DeleteObject):
            return decide.delete_object(
                command, bucket, await self._object(data.bucket, bucket, data.key)
            )
        if isinstance(data, DeleteBucket):
            return await self._delete_bucket(command, bucket)
        if isinstance(data, PutBucketVersioning | PutBucketCors):
            return decide.bucket_setting(command, bucket)
        if isinstance(data, PutObjectTagging):
            return decide.put_object_tagging(
                command, bucket, await self._object(data.bucket, bucket, data.key)
            )
        if isinstance(data, CopyObject):
            source_bucket = await self._bucket(data.source_bucket)
            if not source_bucket.exists:
                return decide.no_bucket(data.source_bucket)
            source = await self._object(data.source_bucket, source_bucket, data.source_key)
            return decide.copy_object(command, bucket, source)
        if isinstance(data, CreateMultipartUpload):
            return decide.create_multipart(command, bucket)
        if isinstance(data, UploadPart):
            return await self._upload_part(command, data, bucket)
        if isinstance(data, CompleteMultipartUpload):
            upload = await self._upload(data.bucket, data.upload_id)
            return decide.complete_multipart(command, bucket, upload)
        if isinstance(data, AbortMultipartUpload):
            return decide.abort_multipart(command, await self._upload(data.bucket, data.upload_id))
        return Reject("NotImplemented", f"{command.type} is not handled here")

    # ------------------------------------------------------------ state from the log

    async def _bucket(self, name: str) -> Bucket:
        """Folded bucket state, cached; one direct get tells whether the cache is current."""
        subject = subjects.bucket_state(name)
        last = await self.bus.last(subject)
        if last is None:
            return Bucket()
        cached = self._buckets.get(name)
        if cached is not None and cached.seq == last.seq:
            return cached
        bucket = fold_bucket(await self.bus.read_subject(subject))
        if bucket.seq < last.seq:  # the scan raced a newer event; fold again next time
            return fold_bucket([*await self.bus.read_subject(subject)])
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        self._buckets[name] = bucket
        return bucket

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
            from handlers.s3.state import has_versions

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
        source_bucket = await self._bucket(str(src.get("bucket", "")))
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

    # ------------------------------------------------------------ appends

    async def _apply(self, command: Envelope, decision: Decision) -> int:
        if isinstance(decision, AlreadyApplied):
            return decision.seq
        if isinstance(decision, Reject):
            return await self._reject(command, decision)
        steps = decision.steps if isinstance(decision, Appends) else (decision,)
        seq = 0
        for i, step in enumerate(steps):
            receipt = await self.bus.append(
                command.caused(step.data),
                step.subject,
                expect_seq=step.expect_seq,
                expect_subject=step.expect_subject,
                msg_id=str(command.id) if i == 0 else f"{command.id}:{i}",
            )
            seq = seq or receipt.seq
            await self._after(command, step.data)
        return seq

    async def _after(self, command: Envelope, event: Message) -> None:
        """Once every sidecar holds the bytes, the WAL can let go of them."""
        chunked = bool(getattr(command.data, "chunks", None))
        if chunked and isinstance(event, ObjectPut | PartUploaded):
            if self.blobs.fully_replicated(event.replicas):
                await self.blobs.release(event.blob_id)

    async def _reject(self, command: Envelope, decision: Reject) -> int:
        event = command.caused(decide.reject(command, decision))
        receipt = await self.bus.append(event, subjects.S3_REJECTED, msg_id=str(command.id))
        return receipt.seq


def _valid_upload_id(upload_id: str) -> bool:
    return 8 <= len(upload_id) <= 64 and upload_id.isalnum()


async def _keep_alive(delivery: Delivery) -> None:
    while True:
        await asyncio.sleep(ACK_WAIT / 3)
        await _quietly(delivery.in_progress())


async def _quietly(op: object) -> None:
    with contextlib.suppress(Exception):
        await op  # type: ignore[misc]

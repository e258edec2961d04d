"""The s3 handler process: read a command, load state from the log, decide, store bytes, append.

Every step is idempotent, so a redelivery after a crash at any point converges: blobs are keyed by
the upload's blob id, event appends carry the command id as ``Nats-Msg-Id``, and a command whose
event is already the newest on its aggregate is recognised as applied.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from bus import subjects
from bus.errors import BusUnavailable, ConcurrencyConflict, NotFoundInLog
from bus.log import Bus, Delivery
from events.envelope import Envelope
from events.s3 import (
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    ObjectPut,
    PutObject,
)
from handlers.s3 import decide
from handlers.s3.decide import AlreadyApplied, Append, Decision, Reject, View
from storage import DigestMismatch, DiskSidecar, StorageError

log = structlog.get_logger("handler.s3")

MAX_CONFLICT_RETRIES = 50
MAX_ATTEMPTS = 8  # deliveries of one command before it is rejected with InternalError
# A command whose handler died is redelivered after ACK_WAIT; a live handler keeps long work (big
# uploads, scans) from timing out by reporting progress every ACK_WAIT / 3.
ACK_WAIT = 5.0


class QuorumNotMet(Exception):
    pass


class S3Handler:
    def __init__(
        self, bus: Bus, sidecars: list[DiskSidecar], *, write_quorum: int, concurrency: int = 64
    ) -> None:
        self.bus = bus
        self.sidecars = sidecars
        self.write_quorum = write_quorum
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        queue = await self.bus.commands("s3", durable="handler-s3", ack_wait=ACK_WAIT)
        slots = asyncio.Semaphore(self.concurrency)
        log.info(
            "handler.started", sidecars=[s.name for s in self.sidecars], quorum=self.write_quorum
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
                await slots.acquire()
                task = asyncio.create_task(self._guarded(delivery, slots))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)

    async def _guarded(self, delivery: Delivery, slots: asyncio.Semaphore) -> None:
        try:
            await self.handle(delivery)
        finally:
            slots.release()

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
                await self._append_rejection(command, Reject("InternalError", reason))
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
            return await self._append_rejection(command, problem)
        data = command.data
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                if isinstance(data, CreateBucket):
                    bucket = await self._view(subjects.bucket_state(data.bucket))
                    return await self._apply(command, decide.create_bucket(command, bucket))
                if isinstance(data, DeleteBucket):
                    return await self._delete_bucket(command, data)
                if isinstance(data, PutObject):
                    return await self._put_object(command, data)
                if isinstance(data, DeleteObject):
                    bucket = await self._view(subjects.bucket_state(data.bucket))
                    obj = await self._view(subjects.object_(data.bucket, data.key))
                    return await self._apply(command, decide.delete_object(command, bucket, obj))
                return await self._append_rejection(
                    command, Reject("NotImplemented", f"{command.type} is not handled here")
                )
            except ConcurrencyConflict:
                await asyncio.sleep(0)  # someone decided first: reload and decide again
        raise RuntimeError(f"gave up after {MAX_CONFLICT_RETRIES} concurrency conflicts")

    async def _view(self, subject: str) -> View:
        stored = await self.bus.last(subject)
        return View(stored.seq, stored.envelope) if stored else View()

    async def _apply(self, command: Envelope, decision: Decision) -> int:
        if isinstance(decision, AlreadyApplied):
            return decision.seq
        if isinstance(decision, Reject):
            return await self._append_rejection(command, decision)
        receipt = await self.bus.append(
            command.caused(decision.data),
            decision.subject,
            expect_seq=decision.expect_seq,
            expect_subject=decision.expect_subject,
            msg_id=str(command.id),
        )
        return receipt.seq

    async def _append_rejection(self, command: Envelope, decision: Reject) -> int:
        event = command.caused(decide.reject(command, decision))
        receipt = await self.bus.append(event, decide.rejection_subject(), msg_id=str(command.id))
        return receipt.seq

    async def _delete_bucket(self, command: Envelope, data: DeleteBucket) -> int:
        everything = await self._view(subjects.bucket_all(data.bucket))
        bucket = await self._view(subjects.bucket_state(data.bucket))
        live = 0
        if bucket.bucket_exists and not bucket.caused_by(command):
            async for stored in self.bus.latest_per_subject(subjects.bucket_objects(data.bucket)):
                if isinstance(stored.envelope.data, ObjectPut):
                    live += 1
                    break
        return await self._apply(command, decide.delete_bucket(command, bucket, everything, live))

    async def _put_object(self, command: Envelope, data: PutObject) -> int:
        bucket = await self._view(subjects.bucket_state(data.bucket))
        decision = decide.put_object(command, bucket)
        if not isinstance(decision, Append):
            return await self._apply(command, decision)
        try:
            replicas = await self._store(data)
        except DigestMismatch as exc:
            return await self._append_rejection(command, Reject("BadDigest", str(exc)))
        except NotFoundInLog as exc:
            return await self._append_rejection(
                command,
                Reject("IncompleteBody", f"the upload's bytes are gone from the log: {exc}"),
            )
        except QuorumNotMet as exc:
            return await self._append_rejection(command, Reject("SlowDown", str(exc)))
        event = decision.data
        assert isinstance(event, ObjectPut)
        stamped = Append(
            decision.subject,
            event.model_copy(update={"replicas": replicas}),
            decision.expect_seq,
            decision.expect_subject,
        )
        seq = await self._apply(command, stamped)
        if data.chunks and len(replicas) == len(self.sidecars):
            await self.bus.purge_blob(data.blob_id)  # every replica holds it: the WAL can let go
        return seq

    async def _store(self, data: PutObject) -> list[str]:
        """Write the bytes to every sidecar in parallel; succeed once the quorum verified them."""

        async def one(sidecar: DiskSidecar) -> str:
            if data.inline is not None:
                await sidecar.put_bytes(data.blob_id, data.inline, sha256=data.sha256)
            else:
                await sidecar.put(data.blob_id, self._chunks(data), sha256=data.sha256)
            return sidecar.name

        results = await asyncio.gather(*(one(s) for s in self.sidecars), return_exceptions=True)
        stored = [r for r in results if isinstance(r, str)]
        errors = [r for r in results if isinstance(r, BaseException)]
        for err in errors:
            if isinstance(err, DigestMismatch | NotFoundInLog):
                raise err
        if len(stored) < self.write_quorum:
            detail = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
            raise QuorumNotMet(
                f"only {len(stored)} of the {self.write_quorum} required replicas stored: {detail}"
            )
        for err in errors:
            if isinstance(err, StorageError | OSError):
                log.warning("handler.replica_failed", error=str(err))
            elif isinstance(err, Exception):
                raise err
        return stored

    async def _chunks(self, data: PutObject) -> AsyncIterator[bytes]:
        """Blob chunks from the log, one fetched ahead of the one being written."""
        if not data.chunks:
            return
        ahead = asyncio.ensure_future(self.bus.get_chunk(data.chunks[0]))
        try:
            for i in range(len(data.chunks)):
                chunk = await ahead
                if i + 1 < len(data.chunks):
                    ahead = asyncio.ensure_future(self.bus.get_chunk(data.chunks[i + 1]))
                yield chunk
        finally:
            if not ahead.done():
                ahead.cancel()


async def _keep_alive(delivery: Delivery) -> None:
    while True:
        await asyncio.sleep(ACK_WAIT / 3)
        await _quietly(delivery.in_progress())


async def _quietly(op: object) -> None:
    with contextlib.suppress(Exception):
        await op  # type: ignore[misc]

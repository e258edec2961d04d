"""The one door to NATS JetStream: commands, events, blob chunks and notifications.

Nothing outside ``bus/`` imports ``nats``. Publishes retry across JetStream leader fail-over
(which takes seconds in a cluster) until ``retry_for`` runs out, then raise BusUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from bus import subjects
from bus.errors import BusUnavailable, ConcurrencyConflict, NotFoundInLog
from events.envelope import Envelope, decode, encode

TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    asyncio.TimeoutError,
)
WRONG_LAST_SEQUENCE = 10071
STREAM_NAME_IN_USE = 10058

HDR_MSG_ID = "Nats-Msg-Id"
HDR_EXPECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_EXPECT_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
HDR_TYPE = "Mycloud-Type"
HDR_CAUSATION = "Mycloud-Causation"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a message landed in its stream; ``duplicate`` when Nats-Msg-Id was already stored."""

    seq: int
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Stored:
    """A message read back from the log."""

    seq: int
    subject: str
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class StreamSettings:
    replicas: int = 1
    duplicate_window: float = 600.0
    commands_max_age: float = 7 * 86400.0
    blobs_max_age: float = 7 * 86400.0


class Delivery:
    """One command delivered to a handler: ack when done, nak to retry later, term to give up."""

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        self.envelope = decode(msg.data)
        meta = msg.metadata
        self.seq = meta.sequence.stream
        self.attempt = meta.num_delivered

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float) -> None:
        await self._msg.nak(delay=delay)

    async def term(self) -> None:
        await self._msg.term()

    async def in_progress(self) -> None:
        await self._msg.in_progress()


class CommandQueue:
    """A durable pull consumer over one service's commands (explicit ack)."""

    def __init__(self, sub: JetStreamContext.PullSubscription) -> None:
        self._sub = sub

    async def fetch(self, batch: int, timeout: float) -> list[Delivery]:
        try:
            msgs = await self._sub.fetch(batch, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return [Delivery(m) for m in msgs]

    async def pending(self) -> int:
        info = await self._sub.consumer_info()
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


class Bus:
    def __init__(self, nc: Client, *, retry_for: float = 15.0) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=5.0)
        self.retry_for = retry_for

    @classmethod
    async def connect(cls, url: str, *, name: str, retry_for: float = 15.0, **opts: Any) -> Bus:
        deadline = time.monotonic() + retry_for
        while True:
            try:
                nc = await nats.connect(
                    url,
                    name=name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    connect_timeout=2,
                    allow_reconnect=True,
                    **opts,
                )
                return cls(nc, retry_for=retry_for)
            except (TimeoutError, OSError, nats.errors.NoServersError) as exc:
                if time.monotonic() > deadline:
                    raise BusUnavailable(f"cannot reach NATS at {url}: {exc}") from exc
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        # Every publish of ours is awaited, so nothing is lost by not draining; a drain would wait
        # out its full timeout on a pull subscription with a fetch pending.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.close(), 5.0)

    # ------------------------------------------------------------ streams

    async def ensure_streams(self, settings: StreamSettings | None = None) -> None:
        s = settings or StreamSettings()
        configs = [
            StreamConfig(
                name=subjects.COMMANDS_STREAM,
                subjects=["cmd.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS,
                max_age=s.commands_max_age,
                duplicate_window=s.duplicate_window,
                num_replicas=s.replicas,
                allow_direct=True,
            ),
            StreamConfig(
                name=subjects.EVENTS_STREAM,
                subjects=["evt.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS,
                duplicate_window=s.duplicate_window,
                num_replicas=s.replicas,
                allow_direct=True,
                deny_delete=True,
                deny_purge=True,
            ),
            StreamConfig(
                name=subjects.BLOBS_STREAM,
                subjects=["blob.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS,
                max_age=s.blobs_max_age,
                discard=DiscardPolicy.NEW,
                num_replicas=s.replicas,
                allow_direct=True,
            ),
        ]
        for config in configs:
            await self._retry(functools.partial(self._ensure_stream, config))

    async def _ensure_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.stream_info(config.name or "")
        except nats.js.errors.NotFoundError:
            try:
                await self.js.add_stream(config)
                return
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:  # else another process just created it
                    raise
        await self.js.update_stream(config)

    async def last_sequence(self, stream: str = subjects.EVENTS_STREAM) -> int:
        info = await self._retry(lambda: self.js.stream_info(stream))
        return int(info.state.last_seq)

    # ------------------------------------------------------------ publishing

    async def send_command(self, envelope: Envelope, service: str) -> Receipt:
        """Append a command to the WAL; a retry with the same envelope id is stored once."""
        name = envelope.type.split(".", 1)[-1]
        headers = {HDR_MSG_ID: str(envelope.id), HDR_TYPE: envelope.type}
        return await self._publish(subjects.command(service, name), encode(envelope), headers)

    async def append(
        self,
        envelope: Envelope,
        subject: str,
        *,
        expect_seq: int | None = None,
        expect_subject: str | None = None,
        msg_id: str | None = None,
    ) -> Receipt:
        """Append an event; with ``expect_seq`` only if the last message on ``expect_subject``
        (default: ``subject``; wildcards allowed) is still at that sequence (0: none yet)."""
        headers = {HDR_MSG_ID: msg_id or str(envelope.id), HDR_TYPE: envelope.type}
        if envelope.causation_id:
            headers[HDR_CAUSATION] = str(envelope.causation_id)
        if expect_seq is not None:
            headers[HDR_EXPECT_SEQ] = str(expect_seq)
            if expect_subject and expect_subject != subject:
                headers[HDR_EXPECT_SUBJECT] = expect_subject
        return await self._publish(subject, encode(envelope), headers)

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> Receipt:
        async def once() -> Receipt:
            try:
                ack = await self.js.publish(subject, payload, headers=headers)
            except nats.js.errors.APIError as exc:
                if exc.err_code == WRONG_LAST_SEQUENCE:
                    raise ConcurrencyConflict(exc.description or "wrong last sequence") from exc
                raise
            return Receipt(seq=ack.seq, duplicate=bool(ack.duplicate))

        return await self._retry(once)

    async def _retry(self, op: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                return await op()
            except TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise BusUnavailable(f"log unavailable: {type(exc).__name__}: {exc}") from exc
            except nats.js.errors.APIError as exc:
                # 503 / cluster not ready during leader election: transient too
                if exc.code not in (503, 500) or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    # ------------------------------------------------------------ reading

    async def last(self, subject: str, stream: str = subjects.EVENTS_STREAM) -> Stored | None:
        """The newest message on a subject (wildcards allowed), or None."""

        async def once() -> Stored | None:
            try:
                raw = await self.js.get_last_msg(stream, subject, direct=True)
            except nats.js.errors.NotFoundError:
                return None
            return Stored(
                seq=int(raw.seq or 0), subject=raw.subject or "", envelope=decode(raw.data or b"")
            )

        result: Stored | None = await self._retry(once)
        return result

    async def get(self, seq: int, stream: str = subjects.EVENTS_STREAM) -> Stored:
        async def once() -> Stored:
            try:
                raw = await self.js.get_msg(stream, seq, direct=True)
            except nats.js.errors.NotFoundError:
                raise NotFoundInLog(f"{stream} has no message {seq}") from None
            return Stored(seq=seq, subject=raw.subject or "", envelope=decode(raw.data or b""))

        result: Stored = await self._retry(once)
        return result

    async def read(
        self,
        from_seq: int = 1,
        *,
        subject: str = "evt.>",
        stream: str = subjects.EVENTS_STREAM,
        until_seq: int | None = None,
        max_batch: int = 500,
        idle: float = 0.05,
    ) -> AsyncIterator[list[Stored]]:
        """Yield the log in order, in batches, from ``from_seq``: for ever or through ``until_seq``.

        An ordered consumer: the server pushes, the client detects gaps and recreates it.
        """
        if until_seq is not None and until_seq < from_seq:
            return
        sub = await self._retry(
            lambda: self.js.subscribe(
                subject,
                stream=stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                config=ConsumerConfig(opt_start_seq=max(from_seq, 1)),
                # no small pending limit: nats-py drops what overflows it, and an ordered
                # consumer counts those as delivered (silent holes); flow control bounds memory
            )
        )
        try:
            while True:
                batch: list[Stored] = []
                try:
                    msg = await sub.next_msg(timeout=None if until_seq is None else 5.0)
                except nats.errors.TimeoutError:
                    if until_seq is not None and await self.last_sequence(stream) < from_seq:
                        return
                    continue
                batch.append(self._stored(msg))
                while len(batch) < max_batch and sub.pending_msgs:
                    batch.append(self._stored(await sub.next_msg(timeout=idle)))
                if until_seq is not None:
                    batch = [m for m in batch if m.seq <= until_seq]
                    if batch:
                        yield batch
                    if not batch or batch[-1].seq >= until_seq:
                        return
                    from_seq = batch[-1].seq + 1
                else:
                    yield batch
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def read_subject(self, subject: str) -> list[Stored]:
        """Every message on ``subject`` (wildcards allowed), in order: an aggregate's history."""
        return [s async for s in self._scan(subject, DeliverPolicy.ALL)]

    async def latest_per_subject(self, subject: str) -> AsyncIterator[Stored]:
        """The newest message of every subject matching ``subject``, in stream order."""
        async for stored in self._scan(subject, DeliverPolicy.LAST_PER_SUBJECT):
            yield stored

    async def _scan(self, subject: str, policy: DeliverPolicy) -> AsyncIterator[Stored]:
        sub = await self._retry(
            lambda: self.js.subscribe(
                subject,
                stream=subjects.EVENTS_STREAM,
                ordered_consumer=True,
                deliver_policy=policy,
            )
        )
        try:
            info = await sub.consumer_info()
            remaining = int(info.num_pending or 0) + int(info.delivered.consumer_seq or 0)
            while remaining > 0:
                msg = await sub.next_msg(timeout=5.0)
                remaining -= 1
                yield self._stored(msg)
                if msg.metadata.num_pending == 0:
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    @staticmethod
    def _stored(msg: Msg) -> Stored:
        return Stored(
            seq=msg.metadata.sequence.stream, subject=msg.subject, envelope=decode(msg.data)
        )

    async def commands(self, service: str, durable: str, *, ack_wait: float = 30.0) -> CommandQueue:
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=1024,
            filter_subject=f"cmd.{service}.>",
            deliver_policy=DeliverPolicy.ALL,
        )
        sub = await self._retry(
            lambda: self.js.pull_subscribe(
                f"cmd.{service}.>", durable=durable, stream=subjects.COMMANDS_STREAM, config=config
            )
        )
        return CommandQueue(sub)

    # ------------------------------------------------------------ blobs

    async def put_chunk(self, blob_id: str, data: bytes) -> int:
        receipt = await self._publish(subjects.blob(blob_id), data, {})
        return receipt.seq

    async def get_chunk(self, seq: int) -> bytes:
        async def once() -> bytes:
            try:
                raw = await self.js.get_msg(subjects.BLOBS_STREAM, seq, direct=True)
            except nats.js.errors.NotFoundError:
                raise NotFoundInLog(f"blob chunk {seq} is gone") from None
            return raw.data or b""

        result: bytes = await self._retry(once)
        return result

    async def purge_blob(self, blob_id: str) -> None:
        await self._retry(
            lambda: self.js.purge_stream(subjects.BLOBS_STREAM, subject=subjects.blob(blob_id))
        )

    # ------------------------------------------------------------ notifications (core NATS)

    async def notify(self, subject: str, payload: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.nc.publish(subject, payload)

    async def listen(self, subject: str, handler: Callable[[bytes], Awaitable[None]]) -> Any:
        async def cb(msg: Msg) -> None:
            await handler(msg.data)

        return await self.nc.subscribe(subject, cb=cb)

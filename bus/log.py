"""The one door to NATS JetStream: commands, events, blob chunks and notifications.

Nothing outside ``bus/`` imports ``nats``. Publishes retry across JetStream leader fail-over
(which takes seconds in a cluster) until ``retry_for`` runs out, then raise BusUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RawStreamMsg,
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
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    asyncio.TimeoutError,
)
# How long a reader waits without a message before it asks whether its consumer still exists: an
# ordered consumer has one replica, on the stream leader's server, and dies with it.
STALL_CHECK = 2.0
# Idle heartbeats of ordered consumers: a lost delivery or a dead consumer shows within 2 of them
# (nats-py's default of 5 s made a reader sit out 10-20 s after a stream leader was killed).
HEARTBEAT = 1.0
WRONG_LAST_SEQUENCE = 10071
# The same refusal from a replicated stream while another append to the subject is in flight (not
# yet committed, so the leader cannot say which sequence it will get): a lost race all the same.
WRONG_LAST_SEQUENCE_IN_FLIGHT = 10164
# A retried publish whose first attempt (same Nats-Msg-Id) is proposed but not yet committed, as
# when the stream lost its quorum: the first one's fate decides, so wait and ask again.
DUPLICATE_IN_PROCESS = 10158
STREAM_NAME_IN_USE = 10058

HDR_MSG_ID = "Nats-Msg-Id"
HDR_EXPECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_EXPECT_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
HDR_TYPE = "Mycloud-Type"
HDR_CAUSATION = "Mycloud-Causation"

log = structlog.get_logger("bus")


def server_urls(url: str) -> list[str]:
    """``nats://a:4222,nats://b:4222`` (MYCLOUD_NATS_URL for a cluster) as nats-py's server list."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    if not servers:
        raise ValueError(f"no NATS server URL in {url!r}")
    return servers


async def _log_connection_error(exc: Exception) -> None:
    # nats-py's default logs a full traceback for every failed reconnect attempt; while a node is
    # down that is one per attempt, and a single line says as much.
    log.warning("bus.connection_error", error=f"{type(exc).__name__}: {exc}")


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

    def __init__(
        self, sub: JetStreamContext.PullSubscription, retry: Callable[..., Awaitable[Any]]
    ) -> None:
        self._sub = sub
        self._retry = retry

    async def fetch(self, batch: int, timeout: float) -> list[Delivery]:
        """Up to ``batch`` commands; none when none came within ``timeout``, and none while the
        consumer's leader is being elected or the connection re-established (the consumer is
        replicated with its stream, and the caller simply asks again)."""
        try:
            msgs = await self._sub.fetch(batch, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except (*TRANSIENT, nats.js.errors.APIError) as exc:
            if not isinstance(exc, TRANSIENT) and exc.code not in (503, 500):
                raise
            log.info("bus.fetch_unavailable", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(min(timeout, 0.5))
            return []
        return [Delivery(m) for m in msgs]


class Bus:
    def __init__(self, nc: Client, *, retry_for: float = 15.0) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=5.0)
        self.retry_for = retry_for
        self._replicas: dict[str, int] = {}
        """Replicas per stream, learnt once: reads by subject bypass followers when above 1."""

    @classmethod
    async def connect(cls, url: str, *, name: str, retry_for: float = 15.0, **opts: Any) -> Bus:
        """Connect to one server or a cluster (``url`` may list several, comma-separated).

        Once connected the client reconnects for ever, to any server of the cluster (those listed
        and those the servers announce), so losing a node costs a reconnect, not the process.
        """
        servers = server_urls(url)
        deadline = time.monotonic() + retry_for
        while True:
            try:
                # With reconnects unlimited, nats-py's first connect also tries for ever when no
                # server answers: the deadline has to come from here.
                nc = await asyncio.wait_for(
                    nats.connect(
                        servers,
                        name=name,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.25,
                        connect_timeout=2,
                        allow_reconnect=True,
                        error_cb=_log_connection_error,
                        **opts,
                    ),
                    max(deadline - time.monotonic(), 0.5),
                )
                return cls(nc, retry_for=retry_for)
            except (TimeoutError, OSError, nats.errors.Error) as exc:
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
        name = config.name or ""
        try:
            info = await self.js.stream_info(name)
        except nats.js.errors.NotFoundError:
            try:
                await self.js.add_stream(config)
                self._replicas[name] = config.num_replicas or 1
                return
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:  # else another process just created it
                    raise
            info = await self.js.stream_info(name)
        current = (info.config.num_replicas or 1) if info.config else 1
        if current > (config.num_replicas or 1):
            # A process started without MYCLOUD_STREAM_REPLICAS (an admin command, a stray role)
            # must not quietly strip a cluster's streams of their copies: scaling down is done
            # on purpose with the nats CLI, never as a side effect of starting up.
            config = dataclasses.replace(config, num_replicas=current)
        await self.js.update_stream(config)
        self._replicas[name] = config.num_replicas or 1

    async def consumer_pending(self, durable: str, stream: str = subjects.COMMANDS_STREAM) -> int:
        """Messages a durable consumer has not had acknowledged yet (read-only: binding to the
        consumer instead could change its configuration)."""
        try:
            info = await self._retry(lambda: self.js.consumer_info(stream, durable))
        except nats.js.errors.NotFoundError:
            return 0
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def wait_for_streams(self, timeout: float = 60.0) -> None:
        """Until every stream exists (declared by someone allowed to: the supervisor)."""
        deadline = time.monotonic() + timeout
        for name in (subjects.COMMANDS_STREAM, subjects.EVENTS_STREAM, subjects.BLOBS_STREAM):
            while True:
                try:
                    await self.js.stream_info(name)
                    break
                except (nats.js.errors.NotFoundError, *TRANSIENT) as exc:
                    if time.monotonic() > deadline:
                        raise BusUnavailable(f"stream {name} does not exist: {exc}") from exc
                    await asyncio.sleep(0.2)

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
                if exc.err_code in (WRONG_LAST_SEQUENCE, WRONG_LAST_SEQUENCE_IN_FLIGHT):
                    raise ConcurrencyConflict(exc.description or "wrong last sequence") from exc
                raise
            return Receipt(seq=ack.seq, duplicate=bool(ack.duplicate))

        return await self._retry(once)

    async def _retry(self, op: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``op`` until it succeeds or ``retry_for`` runs out (then BusUnavailable).

        Transient: whatever a leader election, a node's death or a reconnect looks like from
        here: timeouts, no responders, JetStream answering 503 (no leader, no quorum) or 500,
        or a retried publish whose first attempt is still in process.
        """
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                return await op()
            except TRANSIENT as exc:
                error: Exception = exc
            except nats.js.errors.APIError as exc:
                if exc.code not in (503, 500) and exc.err_code != DUPLICATE_IN_PROCESS:
                    raise
                error = exc
            if time.monotonic() + delay > deadline:
                raise BusUnavailable(f"log unavailable: {type(error).__name__}: {error}") from error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    # ------------------------------------------------------------ reading

    async def _consistent(self, stream: str) -> bool:
        """Whether reads of ``stream`` must go to its leader.

        A direct get is answered by any replica, and a follower may not hold the newest messages
        yet (no read-your-writes across replicas), so a replicated stream's last message per
        subject is asked of the leader; a single replica is always current.
        """
        if stream not in self._replicas:
            info = await self._retry(lambda: self.js.stream_info(stream))
            self._replicas[stream] = (info.config.num_replicas or 1) if info.config else 1
        return self._replicas[stream] > 1

    async def last(self, subject: str, stream: str = subjects.EVENTS_STREAM) -> Stored | None:
        """The newest message on a subject (wildcards allowed), or None."""
        direct = not await self._consistent(stream)

        async def once() -> Stored | None:
            try:
                raw = await self.js.get_last_msg(stream, subject, direct=direct)
            except nats.js.errors.NotFoundError:
                return None
            return Stored(
                seq=int(raw.seq or 0), subject=raw.subject or "", envelope=decode(raw.data or b"")
            )

        result: Stored | None = await self._retry(once)
        return result

    async def _get_raw(self, stream: str, seq: int) -> RawStreamMsg | None:
        """The message at ``seq``, or None when the stream does not hold it.

        A message at a sequence never changes, so any replica that has it answers right; only a
        "not found" may be a follower lagging behind, and is confirmed by the leader.
        """

        async def once() -> RawStreamMsg | None:
            try:
                return await self.js.get_msg(stream, seq, direct=True)
            except nats.js.errors.NotFoundError:
                if not await self._consistent(stream):
                    return None
            try:
                return await self.js.get_msg(stream, seq, direct=False)
            except nats.js.errors.NotFoundError:
                return None

        result: RawStreamMsg | None = await self._retry(once)
        return result

    async def get(self, seq: int, stream: str = subjects.EVENTS_STREAM) -> Stored:
        raw = await self._get_raw(stream, seq)
        if raw is None:
            raise NotFoundInLog(f"{stream} has no message {seq}")
        return Stored(seq=seq, subject=raw.subject or "", envelope=decode(raw.data or b""))

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

        An ordered consumer: the server pushes, the client detects gaps and recreates it. The
        consumer lives on the stream leader's server; when that server dies nats-py's own
        recovery makes one attempt, which fails while the new leader is being elected. So after
        ``STALL_CHECK`` seconds without a message the reader asks whether its consumer is still
        there and working, and if not starts a new one right after the last message it yielded.
        """
        if until_seq is not None and until_seq < from_seq:
            return
        next_seq = max(from_seq, 1)
        sub = await self._ordered(subject, stream, next_seq)
        suspect = False  # the last check saw messages pending that never came
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=STALL_CHECK)
                except nats.errors.TimeoutError:
                    pending = await _pending(sub)
                    if pending == 0 and until_seq is not None:
                        return  # the log ends before until_seq: all of it is read
                    if pending is None or (pending > 0 and suspect):
                        log.info("bus.reader_restarted", stream=stream, from_seq=next_seq)
                        await _unsubscribe(sub)
                        sub = await self._ordered(subject, stream, next_seq)
                        suspect = False
                    else:
                        suspect = bool(pending)
                    continue
                suspect = False
                msgs = [msg]
                while len(msgs) < max_batch and sub.pending_msgs:
                    msgs.append(await sub.next_msg(timeout=idle))
                # After a restart (ours or nats-py's) a message may come again: skip it.
                batch = [s for s in map(self._stored, msgs) if s.seq >= next_seq]
                if until_seq is not None:
                    batch = [m for m in batch if m.seq <= until_seq]
                if not batch:
                    if until_seq is not None and msgs and self._stored(msgs[-1]).seq >= until_seq:
                        return
                    continue
                next_seq = batch[-1].seq + 1
                yield batch
                if until_seq is not None and next_seq > until_seq:
                    return
        finally:
            await _unsubscribe(sub)

    async def _ordered(
        self, subject: str, stream: str, start: int
    ) -> JetStreamContext.PushSubscription:
        sub: JetStreamContext.PushSubscription = await self._retry(
            lambda: self.js.subscribe(
                subject,
                stream=stream,
                ordered_consumer=True,
                idle_heartbeat=HEARTBEAT,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                config=ConsumerConfig(opt_start_seq=start),
                # no small pending limit: nats-py drops what overflows it, and an ordered
                # consumer counts those as delivered (silent holes); flow control bounds memory
            )
        )
        return sub

    async def read_subject(self, subject: str) -> list[Stored]:
        """Every message on ``subject`` (wildcards allowed), in order: an aggregate's history.

        In a cluster the scan's consumer may sit on a replica still catching up (one that has
        just rejoined), so the history is checked against the newest message the leader has on
        the subject, and read again until it reaches it."""
        found = await self._scan(subject, DeliverPolicy.ALL)
        if not await self._consistent(subjects.EVENTS_STREAM):
            return found
        deadline = time.monotonic() + self.retry_for
        while True:
            newest = await self.last(subject)
            if newest is None or (found and found[-1].seq >= newest.seq):
                return found
            if time.monotonic() > deadline:
                raise BusUnavailable(f"no replica has caught up with {subject}")
            await asyncio.sleep(0.1)
            found = await self._scan(subject, DeliverPolicy.ALL)

    async def latest_per_subject(self, subject: str) -> AsyncIterator[Stored]:
        """The newest message of every subject matching ``subject``, in stream order."""
        for stored in await self._scan(subject, DeliverPolicy.LAST_PER_SUBJECT):
            yield stored

    async def _scan(self, subject: str, policy: DeliverPolicy) -> list[Stored]:
        """One consistent pass over the matching messages. A pass cut short (its consumer lost
        with its server, a delivery that never came) is started over as a whole: its caller
        decides on the complete history or not at all."""

        async def once() -> list[Stored]:
            sub = await self.js.subscribe(
                subject,
                stream=subjects.EVENTS_STREAM,
                ordered_consumer=True,
                idle_heartbeat=HEARTBEAT,
                deliver_policy=policy,
            )
            found: list[Stored] = []
            try:
                info = await sub.consumer_info()
                delivered = info.delivered.consumer_seq if info.delivered else 0
                remaining = int(info.num_pending or 0) + int(delivered or 0)
                while remaining > 0:
                    msg = await sub.next_msg(timeout=STALL_CHECK)
                    remaining -= 1
                    found.append(self._stored(msg))
                    if msg.metadata.num_pending == 0:
                        break
            finally:
                await _unsubscribe(sub)
            return found

        result: list[Stored] = await self._retry(once)
        return result

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
        return CommandQueue(sub, self._retry)

    # ------------------------------------------------------------ blobs

    async def put_chunk(self, blob_id: str, data: bytes) -> int:
        receipt = await self._publish(subjects.blob(blob_id), data, {})
        return receipt.seq

    async def get_chunk(self, seq: int) -> bytes:
        raw = await self._get_raw(subjects.BLOBS_STREAM, seq)
        if raw is None:
            raise NotFoundInLog(f"blob chunk {seq} is gone")
        return raw.data or b""

    async def blob_chunks(self, blob_id: str) -> AsyncIterator[bytes]:
        """The chunks of a blob still in the log, in order, one request each (no consumer, so
        memory holds one chunk at a time); nothing once they are purged. Chunks can expire one by
        one (max age), so a caller must verify what it reassembles."""

        # A lagging follower would answer "no more chunks" early: ask the leader when replicated.
        direct = not await self._consistent(subjects.BLOBS_STREAM)

        def next_from(seq: int) -> Callable[[], Awaitable[Any]]:
            return lambda: self.js.get_msg(
                subjects.BLOBS_STREAM,
                seq=seq,
                subject=subjects.blob(blob_id),
                direct=direct,
                next=True,
            )

        seq = 1
        while True:
            try:
                raw = await self._retry(next_from(seq))
            except nats.js.errors.NotFoundError:
                return
            yield raw.data or b""
            seq = int(raw.seq or 0) + 1

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

    async def answer(self, subject: str, handler: Callable[[bytes], Awaitable[bytes]]) -> Any:
        """Reply to every request on ``subject`` (core NATS) with what ``handler`` returns."""

        async def cb(msg: Msg) -> None:
            if msg.reply:
                with contextlib.suppress(Exception):
                    await self.nc.publish(msg.reply, await handler(msg.data))

        return await self.nc.subscribe(subject, cb=cb)

    async def gather(self, subject: str, payload: bytes, *, timeout: float) -> list[bytes]:
        """Ask everyone answering ``subject`` and collect the replies that come within
        ``timeout`` (core NATS scatter-gather; none when NATS is unreachable)."""
        replies: list[bytes] = []

        async def cb(msg: Msg) -> None:
            replies.append(msg.data)

        try:
            inbox = self.nc.new_inbox()
            sub = await self.nc.subscribe(inbox, cb=cb)
            try:
                await self.nc.publish(subject, payload, reply=inbox)
                await self.nc.flush(timeout=max(1, int(timeout)))
                await asyncio.sleep(timeout)
            finally:
                await sub.unsubscribe()
        except Exception:  # metrics must not fail on a lost connection: report what came
            pass
        return replies


async def _pending(sub: JetStreamContext.PushSubscription) -> int | None:
    """Messages the server still has for this consumer, or None when the consumer is gone or its
    server does not answer (it died with its server, or a leader election is under way)."""
    try:
        info = await sub.consumer_info()
    except (TimeoutError, nats.errors.Error):
        return None
    return int(info.num_pending or 0)


async def _unsubscribe(sub: JetStreamContext.PushSubscription) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()

"""The I/O shell every service's handler shares: pull commands, decide, append, ack.

Every step is idempotent, so a redelivery after a crash at any point converges: event appends
carry the command id as ``Nats-Msg-Id``, and a command whose event is already the newest on its
aggregate is recognised as applied. A command that keeps failing for an unexpected reason is
retried with backoff and finally rejected with ``InternalError`` and the reason — never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bus.errors import BusUnavailable, ConcurrencyConflict
from bus.log import Bus, Delivery
from events.envelope import Envelope, Message
from handlers.decision import AlreadyApplied, Appends, Decision, Reject

log = structlog.get_logger("handler")

MAX_CONFLICT_RETRIES = 50
MAX_ATTEMPTS = 8  # deliveries of one command before it is rejected with InternalError
# A command whose handler died is redelivered after ACK_WAIT; a live handler keeps long work (big
# uploads, scans) from timing out by reporting progress every ACK_WAIT / 3.
ACK_WAIT = 5.0


class CommandHandler:
    service = ""

    def __init__(self, bus: Bus, *, concurrency: int = 64) -> None:
        self.bus = bus
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()

    async def decide(self, command: Envelope) -> Decision:
        raise NotImplementedError

    def validate(self, command: Envelope) -> Reject | None:
        return None

    def rejection(self, command: Envelope, decision: Reject) -> tuple[str, Message]:
        """Where a rejection goes and what it says."""
        raise NotImplementedError

    async def after_append(self, command: Envelope, event: Message) -> None:
        """Side effects once an event is durable."""

    def on_conflict(self, command: Envelope) -> None:
        """An append's expectation failed: drop whatever state this command was decided on."""

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        queue = await self.bus.commands(
            self.service, durable=f"handler-{self.service}", ack_wait=ACK_WAIT
        )
        log.info("handler.started", service=self.service)
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
                await self.reject(command, Reject("InternalError", reason))
            await _quietly(delivery.term())
            return
        finally:
            ticker.cancel()
        bound.debug("handler.applied", seq=seq)
        await _quietly(delivery.ack())

    async def process(self, command: Envelope) -> int:
        """Decide and apply one command; returns the sequence of its outcome event."""
        problem = self.validate(command)
        if problem:
            return await self.reject(command, problem)
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                return await self.apply(command, await self.decide(command))
            except ConcurrencyConflict:
                self.on_conflict(command)
                await asyncio.sleep(0)  # someone decided first: reload and decide again
        raise RuntimeError(f"gave up after {MAX_CONFLICT_RETRIES} concurrency conflicts")

    async def apply(self, command: Envelope, decision: Decision) -> int:
        if isinstance(decision, AlreadyApplied):
            return decision.seq
        if isinstance(decision, Reject):
            return await self.reject(command, decision)
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
            await self.after_append(command, step.data)
        return seq

    async def reject(self, command: Envelope, decision: Reject) -> int:
        subject, data = self.rejection(command, decision)
        receipt = await self.bus.append(command.caused(data), subject, msg_id=str(command.id))
        return receipt.seq


async def _keep_alive(delivery: Delivery) -> None:
    while True:
        await asyncio.sleep(ACK_WAIT / 3)
        await _quietly(delivery.in_progress())


async def _quietly(op: object) -> None:
    with contextlib.suppress(Exception):
        await op  # type: ignore[misc]

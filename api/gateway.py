"""Issue a command and wait for its outcome as the read models see it (read-your-writes).

The projector announces every committed batch (its checkpoint and the outcomes of the commands in
it) on core NATS. A waiter registers before the command is sent, so a fast outcome is never
missed; if an announcement is lost anyway, polling the ``command_outcomes`` read model finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from bus import subjects
from bus.log import Bus
from events.envelope import Envelope, Message
from projections import queries
from projections.db import Database

log = structlog.get_logger("api.gateway")
POLL_EVERY = 0.25


@dataclass(frozen=True, slots=True)
class Outcome:
    command_id: str
    seq: int
    type: str
    ok: bool
    code: str | None = None
    message: str | None = None
    duplicate: bool = False
    """The log already held this command id: this request's own payload was not used."""


class OutcomeTimeout(Exception):
    def __init__(self, command_id: str) -> None:
        self.command_id = command_id
        super().__init__(command_id)


class Gateway:
    def __init__(self, bus: Bus, db: Database, *, timeout: float) -> None:
        self.bus = bus
        self.db = db
        self.timeout = timeout
        self.checkpoint = 0
        self.last_note = 0.0
        self._waiters: dict[str, asyncio.Future[Outcome]] = {}
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.bus.listen(subjects.PROJECTED, self._on_projected)
        cps = await queries.checkpoints(self.db)
        self.checkpoint = min(cps.values()) if cps else 0

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _on_projected(self, raw: bytes) -> None:
        note = orjson.loads(raw)
        self.checkpoint = max(self.checkpoint, int(note.get("checkpoint", 0)))
        self.last_note = time.monotonic()
        for item in note.get("outcomes", ()):
            waiter = self._waiters.get(item["command_id"])
            if waiter is not None and not waiter.done():
                waiter.set_result(_outcome(item))

    async def execute(
        self,
        data: Message,
        *,
        actor: str,
        service: str,
        request_id: uuid.UUID,
        command_id: uuid.UUID | None = None,
    ) -> Outcome:
        """Send a command and return its outcome once every read model reflects it.

        With ``command_id`` (a client's idempotency key), a command already decided is answered
        from the read model and not sent again."""
        envelope = Envelope.wrap(data, actor=actor, id=command_id, correlation_id=request_id)
        key = str(envelope.id)
        if command_id is not None:
            known = await self.lookup(key)
            if known is not None:
                return known
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            receipt = await self.bus.send_command(envelope, service)
            outcome = await self._wait(key, waiter)
            return dataclasses.replace(outcome, duplicate=True) if receipt.duplicate else outcome
        finally:
            self._waiters.pop(key, None)

    async def _wait(self, key: str, waiter: asyncio.Future[Outcome]) -> Outcome:
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutcomeTimeout(key)
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), min(POLL_EVERY, remaining))
            except TimeoutError:
                pass
            known = await self.lookup(key)
            if known is not None:
                return known

    async def lookup(self, key: str) -> Outcome | None:
        row = await queries.command_outcome(self.db, key)
        if row is None:
            return None
        cps = await queries.checkpoints(self.db)
        if cps and min(cps.values()) < int(row["seq"]):
            return None  # a projection is being rebuilt and has not reached it yet
        return _outcome(row)


def _outcome(item: dict[str, Any]) -> Outcome:
    return Outcome(
        command_id=str(item["command_id"]),
        seq=int(item["seq"]),
        type=str(item["type"]),
        ok=bool(item["ok"]),
        code=item.get("code"),
        message=item.get("message"),
    )

"""Liveness of roles: each process announces itself every second on core NATS."""

from __future__ import annotations

import asyncio
import os
import time

import orjson

from bus.log import Bus

PREFIX = "mycloud.heartbeat"
INTERVAL = 1.0
STALE_AFTER = 5.0


async def beat(bus: Bus, role: str, stop: asyncio.Event) -> None:
    payload = orjson.dumps({"role": role, "pid": os.getpid()})
    while not stop.is_set():
        await bus.notify(f"{PREFIX}.{role}", payload)
        try:
            await asyncio.wait_for(stop.wait(), INTERVAL)
        except TimeoutError:
            pass


class Liveness:
    """The API's view of which roles are alive."""

    def __init__(self, required: tuple[str, ...]) -> None:
        self.required = required
        self.seen: dict[str, float] = {}

    async def start(self, bus: Bus) -> None:
        async def on_beat(raw: bytes) -> None:
            self.seen[orjson.loads(raw)["role"]] = time.monotonic()

        await bus.listen(f"{PREFIX}.>", on_beat)

    async def settle(self, timeout: float = INTERVAL * 1.5) -> None:
        """Wait (briefly) to hear every required role, so that a worker that just started does
        not call a healthy stack unhealthy: a heartbeat comes every INTERVAL."""
        deadline = time.monotonic() + timeout
        while not all(self.status().values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def status(self) -> dict[str, bool]:
        now = time.monotonic()
        return {r: now - self.seen.get(r, -1e9) < STALE_AFTER for r in self.required}

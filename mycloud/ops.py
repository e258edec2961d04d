"""Issue commands from the command line the way the API does: through the log, waiting until the
read models reflect the outcome."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import click

from api.gateway import Gateway, OutcomeTimeout
from bus.log import Bus
from events.envelope import Message, new_id
from mycloud.roles import bus_for
from mycloud.settings import Settings
from projections.db import Database, open_database


@dataclass
class Session:
    bus: Bus
    db: Database
    gateway: Gateway
    settings: Settings

    async def run(self, service: str, data: Message, actor: str = "root") -> Any:
        try:
            outcome = await self.gateway.execute(
                data, actor=actor, service=service, request_id=new_id()
            )
        except OutcomeTimeout as exc:
            raise click.ClickException(
                f"no outcome yet for command {exc.command_id}: is the stack running?"
            ) from None
        if not outcome.ok:
            raise click.ClickException(f"{outcome.code}: {outcome.message}")
        return outcome


@contextlib.asynccontextmanager
async def session(settings: Settings) -> AsyncIterator[Session]:
    try:
        bus = await bus_for(settings, "admin", retry_for=5.0)
    except Exception as exc:
        raise click.ClickException(f"cannot reach NATS: {exc}") from None
    db = await open_database(settings.effective_database_url)
    gateway = Gateway(bus, db, timeout=min(settings.request_timeout, 15.0))
    await gateway.start()
    try:
        yield Session(bus, db, gateway, settings)
    finally:
        await gateway.stop()
        await db.close()
        await bus.close()

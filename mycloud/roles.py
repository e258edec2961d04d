"""Composition roots: one per process role. Each reads settings, wires adapters, runs until stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from bus.log import Bus, StreamSettings
from mycloud import heartbeat
from mycloud.settings import Settings

log = structlog.get_logger("mycloud")


def nats_url(settings: Settings) -> str:
    if settings.nats_url:
        return settings.nats_url
    url_file = settings.data_dir / "run" / "nats.url"
    if url_file.exists():
        return url_file.read_text().strip()
    raise SystemExit("no NATS server: set MYCLOUD_NATS_URL or start the stack with `mycloud up`")


async def bus_for(settings: Settings, role: str, *, retry_for: float = 30.0) -> Bus:
    """Connect as the role's service identity (bus/identities.py) when the stack has them."""
    from bus import identities

    credentials = identities.load(settings.data_dir, role)
    return await Bus.connect(
        nats_url(settings), name=f"mycloud-{role}", retry_for=retry_for, **(credentials or {})
    )


async def connect(settings: Settings, role: str) -> Bus:
    from bus import identities

    bus = await bus_for(settings, role)
    if identities.load(settings.data_dir, role) is None:
        # No service identities (an external NATS without them): streams are ours to declare.
        await bus.ensure_streams(StreamSettings(replicas=settings.stream_replicas))
    else:
        await bus.wait_for_streams()  # only the supervisor may administer streams
    return bus


async def open_read_models(settings: Settings, bus: Bus) -> Any:
    """Open the read-model database with its schema in place (idempotent DDL), retrying while
    another process holds the lock during its own start-up."""
    from projections import Projector, all_projections
    from projections.db import DatabaseError, open_database

    for attempt in range(50):
        try:
            db = await open_database(settings.effective_database_url)
        except DatabaseError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
            continue
        try:
            await Projector(bus, db, all_projections()).start()
            return db
        except DatabaseError:
            await db.close()
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


async def run_handler(settings: Settings, stop: asyncio.Event, service: str = "s3") -> None:
    from handlers.base import CommandHandler

    role = f"handler-{service}"
    bus = await connect(settings, role)
    handler: CommandHandler
    if service == "iam":
        from handlers.iam.shell import IamHandler

        handler = IamHandler(bus, concurrency=settings.handler_concurrency)
    else:
        from handlers.s3.shell import S3Handler
        from storage import build_sidecars

        handler = S3Handler(
            bus,
            build_sidecars(settings.effective_sidecars),
            write_quorum=settings.effective_write_quorum,
            concurrency=settings.handler_concurrency,
        )
    upkeep = await _s3_upkeep(settings, bus, handler, stop) if service == "s3" else None
    beat = asyncio.create_task(heartbeat.beat(bus, role, stop))
    try:
        await handler.run(stop)
    finally:
        beat.cancel()
        if upkeep is not None:
            await upkeep()
        blobs = getattr(handler, "blobs", None)
        await close_sidecars(blobs.sidecars if blobs is not None else ())
        await bus.close()


async def _s3_upkeep(
    settings: Settings, bus: Bus, handler: Any, stop: asyncio.Event
) -> Callable[[], Awaitable[None]]:
    """The s3 handler's background work on the bytes: the replicator (catch-up of sidecars the
    write quorum left out) and the periodic scrub. Returns what stops them."""
    from handlers.s3.replicator import ACTOR, Replicator, log_source, record_replica
    from storage.scrubber import Scrubber

    db = await open_read_models(settings, bus)
    writer = handler.blobs
    replicator = Replicator(bus, db, writer.sidecars, writer=writer)
    tasks = [asyncio.create_task(replicator.run(stop))]
    if settings.scrub_interval > 0:
        scrubber = Scrubber(
            db,
            writer.sidecars,
            record=functools.partial(record_replica, bus, db, actor=ACTOR),
            log_source=functools.partial(log_source, bus),
        )
        tasks.append(asyncio.create_task(scrubber.run(stop, settings.scrub_interval)))

    async def close() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.close()

    return close


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    from projections import all_projections
    from projections.runner import Projector
    from storage import build_sidecars
    from storage.collector import Collector

    bus = await connect(settings, "projector")
    db = await open_read_models(settings, bus)
    projector = Projector(bus, db, all_projections())
    sidecars = build_sidecars(settings.effective_sidecars)
    collector = Collector(db, sidecars)
    beat = asyncio.create_task(heartbeat.beat(bus, "projector", stop))
    collecting = asyncio.create_task(collector.run(stop))
    task = asyncio.create_task(projector.run())
    try:
        await _until(stop, task)
    finally:
        beat.cancel()
        collecting.cancel()
        await close_sidecars(sidecars)
        await db.close()
        await bus.close()


async def run_api(settings: Settings, stop: asyncio.Event) -> None:
    from api.app import Context, required_roles, serve
    from api.gateway import Gateway
    from api.identity import IdentityStore
    from mycloud import credentials
    from mycloud.vault import Vault
    from storage import build_sidecars

    vault = Vault.open(settings.data_dir)  # first: nothing to leave open should it fail
    bus = await connect(settings, "api")
    db = await open_read_models(settings, bus)
    root = credentials.from_env() or credentials.ensure_root(settings.credentials_path)[0]
    gateway = Gateway(bus, db, timeout=settings.request_timeout)
    await gateway.start()
    liveness = heartbeat.Liveness(required_roles())
    await liveness.start(bus)
    await liveness.settle()  # before taking connections from the shared ports
    context = Context(
        settings=settings,
        bus=bus,
        db=db,
        gateway=gateway,
        identities=IdentityStore(root, db, vault),
        sidecars={s.name: s for s in build_sidecars(settings.effective_sidecars)},
        liveness=liveness,
    )
    await context.answer_metrics()
    try:
        await serve(context, settings.host, settings.port, stop)
    finally:
        await gateway.stop()
        await close_sidecars(list(context.sidecars.values()))
        await db.close()
        await bus.close()


async def close_sidecars(sidecars: Any) -> None:
    """Remote sidecars hold HTTP sessions: close them so nothing is left half-open."""
    for sidecar in sidecars or ():
        with contextlib.suppress(Exception):
            await sidecar.close()


async def _until(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()  # a crashed runner crashes the process: the supervisor restarts it
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(role: Callable[[Settings, asyncio.Event], Awaitable[None]], settings: Settings) -> None:
    """Run one role until SIGTERM/SIGINT."""

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await role(settings, stop)

    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
            asyncio.run(body())
        else:
            uvloop.run(body())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        # A role that fails must exit, so that the supervisor restarts it: threads left behind
        # by what it had opened (a database connection's) would keep the process alive, and an
        # api worker that is alive but not serving strands the connections its socket receives.
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

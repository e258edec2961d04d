"""Operator commands: replay (rebuild read models from the log), status (lag, health, replicas)
and scrub (verify and repair every replica)."""

from __future__ import annotations

import functools

import click

from bus import subjects
from bus.log import Bus
from mycloud.roles import bus_for
from mycloud.settings import Settings

SCRUB_ACTOR = "mycloud:scrub"


async def _bus(settings: Settings) -> Bus:
    try:
        return await bus_for(settings, "admin", retry_for=5.0)
    except Exception as exc:
        raise click.ClickException(f"cannot reach NATS: {exc}") from None


async def replay(settings: Settings, names: list[str], into: str | None, compare: bool) -> int:
    from projections import all_projections
    from projections.db import open_database
    from projections.replay import build_fresh, rebuild
    from projections.replay import compare as compare_dbs

    known = [p.name for p in all_projections()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.ClickException(
            f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if compare and not into:
        raise click.ClickException("--compare needs --into URL")
    bus = await _bus(settings)
    live = await open_database(settings.effective_database_url)
    try:
        last = await bus.last_sequence()
        if into:
            fresh = await build_fresh(bus, into)
            try:
                click.echo(f"built {', '.join(known)} into {into} through sequence {last}")
                if compare:
                    diffs = await compare_dbs(live, fresh, names or known)
                    for line in diffs[:50]:
                        click.echo(f"  {line}")
                    click.echo("equal, row for row" if not diffs else f"{len(diffs)} difference(s)")
                    return 0 if not diffs else 1
            finally:
                await fresh.close()
            return 0
        await rebuild(bus, live, names or None)
        click.echo(f"rebuilt {', '.join(names or known)} through sequence {last}")
        return 0
    finally:
        await live.close()
        await bus.close()


async def status(settings: Settings) -> int:
    from projections import queries
    from projections.db import open_database
    from storage import build_sidecars
    from storage.base import Health
    from storage.replicas import tally

    bus = await _bus(settings)
    try:
        last = await bus.last_sequence()
        pending = await bus.consumer_pending("handler-s3")
        db = await open_database(settings.effective_database_url)
        try:
            cps = await queries.checkpoints(db)
            groups = await queries.replica_sets(db)
        finally:
            await db.close()
        click.echo(f"log       {subjects.EVENTS_STREAM} last sequence {last}")
        click.echo(f"handler   s3: {pending} command(s) not yet acknowledged")
        for name, cp in sorted(cps.items()):
            click.echo(f"projection {name}: checkpoint {cp}, lag {last - cp}")
        names = [spec.partition("=")[0] for spec in settings.effective_sidecars]
        held, under = tally(groups, names)
        healthy = True
        for name, spec in zip(names, settings.effective_sidecars, strict=True):
            try:
                [sidecar] = build_sidecars([spec])
                h = await sidecar.health()
                detail = f"({sidecar.kind}): {'ok' if h.ok else 'FAILING'} {h.detail}"
            except Exception as exc:  # e.g. its root is not a directory: report, don't crash
                h = Health(ok=False)
                detail = f"FAILING {type(exc).__name__}: {exc}"
            healthy &= h.ok
            click.echo(f"sidecar   {name} {detail}; holds {held[name]} blob(s)")
        live = sum(n for _, n in groups)
        click.echo(f"replicas  {live} live blob(s), {under} under-replicated")
        return 0 if healthy else 1
    finally:
        await bus.close()


async def scrub(settings: Settings, repair: bool) -> int:
    """Verify every replica of every live blob; with ``repair``, replace missing and corrupt ones
    from healthy replicas (or the log) and record caught-up replicas, which needs NATS."""
    from handlers.s3.replicator import log_source, record_replica
    from projections.db import open_database
    from storage import build_sidecars
    from storage.scrubber import Scrubber

    sidecars = []
    for spec in settings.effective_sidecars:
        try:
            sidecars += build_sidecars([spec])
        except Exception as exc:  # e.g. its root is not a directory: scrub the others
            click.echo(f"  skipped  sidecar {spec.partition('=')[0]}: {type(exc).__name__}: {exc}")
    bus = await _bus(settings) if repair else None
    db = await open_database(settings.effective_database_url)
    try:
        scrubber = Scrubber(
            db,
            sidecars,
            repair=repair,
            record=functools.partial(record_replica, bus, db, actor=SCRUB_ACTOR) if bus else None,
            log_source=functools.partial(log_source, bus) if bus else None,
        )
        report = await scrubber.scrub()
    finally:
        await db.close()
        if bus is not None:
            await bus.close()
    for f in report.findings[:100]:
        outcome = "repaired" if f.repaired else ("UNREPAIRABLE" if repair else "not repaired")
        click.echo(f"  {f.verdict:<8} blob {f.blob_id} on {f.sidecar}: {outcome}")
    click.echo(
        f"scrubbed  {report.blobs} blob(s), {report.checked} replica(s) checked: "
        f"{report.missing} missing, {report.corrupt} corrupt, {report.repaired} repaired, "
        f"{report.unrepairable} unrepairable, {report.unreachable} unreachable"
    )
    return 0 if report.clean and len(sidecars) == len(settings.effective_sidecars) else 1

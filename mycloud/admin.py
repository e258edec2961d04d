"""Operator commands: replay (rebuild read models from the log) and status (lag, health)."""

from __future__ import annotations

import click

from bus import subjects
from bus.log import Bus
from mycloud.roles import nats_url
from mycloud.settings import Settings


async def _bus(settings: Settings) -> Bus:
    try:
        return await Bus.connect(nats_url(settings), name="mycloud-admin", retry_for=5.0)
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

    bus = await _bus(settings)
    try:
        last = await bus.last_sequence()
        pending = await (await bus.commands("s3", durable="handler-s3")).pending()
        db = await open_database(settings.effective_database_url)
        try:
            cps = await queries.checkpoints(db)
        finally:
            await db.close()
        click.echo(f"log       {subjects.EVENTS_STREAM} last sequence {last}")
        click.echo(f"handler   s3: {pending} command(s) not yet acknowledged")
        for name, cp in sorted(cps.items()):
            click.echo(f"projection {name}: checkpoint {cp}, lag {last - cp}")
        healthy = True
        for sidecar in build_sidecars(settings.effective_sidecars):
            h = await sidecar.health()
            healthy &= h.ok
            click.echo(
                f"sidecar   {sidecar.name} ({sidecar.kind}): "
                f"{'ok' if h.ok else 'FAILING'} {h.detail}"
            )
        return 0 if healthy else 1
    finally:
        await bus.close()

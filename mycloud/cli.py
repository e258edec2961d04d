"""The ``mycloud`` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from mycloud import __version__
from mycloud.settings import Settings


def settings_from(**overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except Exception as exc:  # pydantic's message is long; one line is enough here
        raise click.ClickException(f"invalid settings: {str(exc).splitlines()[0]}") from None


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory (default: $MYCLOUD_DATA_DIR or ~/.mycloud).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mycloud")
def main() -> None:
    """MyCloud: a local cloud (S3-compatible object storage) on an event-sourced NATS JetStream
    backbone. Start everything with `mycloud up`."""


@main.command()
@data_dir_option
@click.option("--host", default=None, help="API listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Native JSON API port (default 9080).")
@click.option(
    "--aws-port", type=int, default=None, help="AWS-compatible (S3) endpoint port (default 9000)."
)
@click.option(
    "--nats-cluster",
    "nats_nodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Run the embedded NATS as an N-node JetStream cluster on loopback "
    "(3: streams get 3 replicas and survive the loss of a node).",
)
@click.option(
    "--roles",
    default=None,
    metavar="LIST",
    help="Comma-separated roles to run here (default: all of projector, handler-s3, "
    "handler-iam, api). With $MYCLOUD_NATS_URL set no NATS is started either, so "
    "stacks compose: e.g. --roles api,handler-s3 against a shared cluster.",
)
@click.option(
    "--api-workers",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="API processes serving the two ports (default: $MYCLOUD_API_WORKERS, else one per "
    "two CPUs, at most 4; 0 means that default).",
)
def up(
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    aws_port: int | None,
    nats_nodes: int,
    roles: str | None,
    api_workers: int | None,
) -> None:
    """Start the whole stack: nats-server, projector, handlers and API, supervised."""
    from mycloud.supervisor import ROLES, Supervisor, parse_roles

    settings = settings_from(
        data_dir=data_dir, host=host, port=port, aws_port=aws_port, api_workers=api_workers
    )
    try:
        chosen = parse_roles(roles) if roles is not None else ROLES
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--roles") from None
    sys.exit(Supervisor(settings, roles=chosen, nats_nodes=nats_nodes).up())


@main.command()
@data_dir_option
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Native JSON API port (default 9080).")
@click.option("--aws-port", type=int, default=None, help="S3 endpoint port (default 9000).")
def api(data_dir: Path | None, host: str | None, port: int | None, aws_port: int | None) -> None:
    """Run the HTTP API alone (against $MYCLOUD_NATS_URL and $MYCLOUD_DATABASE_URL)."""
    from mycloud import logs, roles

    s = settings_from(data_dir=data_dir, host=host, port=port, aws_port=aws_port)
    logs.configure(s.log_format, s.log_level, "api")
    roles.main(roles.run_api, s)


@main.command()
@click.argument("service", type=click.Choice(["s3", "iam"]))
@data_dir_option
def handler(service: str, data_dir: Path | None) -> None:
    """Run one service's command handler alone."""
    import functools

    from mycloud import logs, roles

    s = settings_from(data_dir=data_dir)
    logs.configure(s.log_format, s.log_level, f"handler-{service}")
    roles.main(functools.partial(roles.run_handler, service=service), s)


@main.command()
@data_dir_option
def projector(data_dir: Path | None) -> None:
    """Run the projector alone: events -> SQL read models."""
    from mycloud import logs, roles

    s = settings_from(data_dir=data_dir)
    logs.configure(s.log_format, s.log_level, "projector")
    roles.main(roles.run_projector, s)


@main.command()
@click.argument("names", nargs=-1)
@data_dir_option
@click.option(
    "--into",
    default=None,
    metavar="URL",
    help="Build into this fresh database instead of rebuilding the live one.",
)
@click.option(
    "--compare/--no-compare",
    default=False,
    help="After building with --into, compare it row for row with the live read models.",
)
def replay(names: tuple[str, ...], data_dir: Path | None, into: str | None, compare: bool) -> None:
    """Rebuild read models (all, or NAMES) from the event log."""
    from mycloud import admin

    s = settings_from(data_dir=data_dir)
    sys.exit(asyncio.run(admin.replay(s, list(names), into, compare)))


@main.command()
@data_dir_option
def status(data_dir: Path | None) -> None:
    """Consumer lag per handler, projection lag, sidecar health."""
    from mycloud import admin

    s = settings_from(data_dir=data_dir)
    sys.exit(asyncio.run(admin.status(s)))


@main.command()
@data_dir_option
@click.option(
    "--repair/--no-repair",
    default=True,
    show_default=True,
    help="Replace missing and corrupt replicas from healthy ones (needs NATS to record them).",
)
def scrub(data_dir: Path | None, repair: bool) -> None:
    """Verify the SHA-256 of every replica of every stored blob; exit 1 if any is still bad."""
    from mycloud import admin, logs

    s = settings_from(data_dir=data_dir)
    logs.configure(s.log_format, "warning", "scrub")
    sys.exit(asyncio.run(admin.scrub(s, repair)))


@main.command("storage-node")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Where this node keeps its blobs.",
)
@click.option("--port", type=int, required=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option(
    "--credentials",
    type=click.Path(path_type=Path),
    default=None,
    help="The node's key and secret (AWS shared-credentials format, [default] section); "
    "created (mode 0600) when absent. Default: $MYCLOUD_NODE_KEY and $MYCLOUD_NODE_SECRET.",
)
def storage_node(data_dir: Path, port: int, host: str, credentials: Path | None) -> None:
    """Serve blobs over HTTP for a `node` sidecar (name=node:http://KEY:SECRET@HOST:PORT)."""
    from mycloud import credentials as creds
    from storage import node

    if credentials is not None:
        key = creds.ensure_root(credentials)[0]
        key_id, secret = key.access_key_id, key.secret_access_key
    else:
        key_id = os.environ.get("MYCLOUD_NODE_KEY", "")
        secret = os.environ.get("MYCLOUD_NODE_SECRET", "")
        if not key_id or not secret:
            raise click.UsageError(
                "give --credentials FILE or set MYCLOUD_NODE_KEY and MYCLOUD_NODE_SECRET"
            )
    node.run(data_dir, host, port, key_id, secret)


@main.command()
@data_dir_option
@click.option("--actor", default=None, help="Only what this principal did (e.g. root, alice).")
@click.option("--bucket", default=None, help="Only what touched this bucket.")
@click.option("--since", default=None, help="Only from this time on (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(
    data_dir: Path | None, actor: str | None, bucket: str | None, since: str | None, as_json: bool
) -> None:
    """Who did what, when: every change and every refusal, from the log."""
    import json

    from mycloud import audit as au
    from mycloud.admin import _bus

    s = settings_from(data_dir=data_dir)
    when = au.parse_since(since)

    async def body() -> int:
        bus = await _bus(s)
        try:
            last = await bus.last_sequence()
            rows = []
            async for batch in bus.read(1, until_seq=last):
                for stored in batch:
                    row = au.describe(stored)
                    if au.matches(row, stored, actor, bucket, when):
                        rows.append(row)
        finally:
            await bus.close()
        for line in (json.dumps(r) for r in rows) if as_json else au.lines(iter(rows)):
            click.echo(line)
        return 0

    sys.exit(asyncio.run(body()))


def _register_groups() -> None:
    from mycloud.iam_cli import iam

    main.add_command(iam)


_register_groups()


if __name__ == "__main__":
    main()

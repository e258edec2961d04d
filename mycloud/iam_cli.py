"""``mycloud iam …``: manage users, access keys, groups and policies from the command line."""

from __future__ import annotations

import asyncio
import json
import secrets
import string
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, cast

import click

from events import iam as ev
from iam.errors import PolicyError
from iam.policy import parse_policy
from mycloud.ops import Session, session
from mycloud.settings import Settings
from mycloud.vault import Vault
from projections import iam_queries

_ALNUM = string.ascii_uppercase + string.digits


def _go(fn: Callable[[Session], Awaitable[None]]) -> None:
    settings: Settings = click.get_current_context().obj

    async def body() -> None:
        async with session(settings) as s:
            await fn(s)

    asyncio.run(body())


def _document(source: str, limit: str) -> str:
    text = Path(source[1:]).read_text() if source.startswith("@") else source
    try:
        parse_policy(text, kind="identity", limit=limit)  # type: ignore[arg-type]
    except PolicyError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    return text


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory of the stack (default: $MYCLOUD_DATA_DIR or ~/.mycloud).",
)
@click.pass_context
def iam(ctx: click.Context, data_dir: Path | None) -> None:
    """Users, access keys, groups and policies (the stack must be running)."""
    ctx.obj = Settings(data_dir=data_dir) if data_dir else Settings()


@iam.command("create-user")
@click.argument("name")
def create_user(name: str) -> None:
    """Create an IAM user."""

    async def fn(s: Session) -> None:
        await s.run("iam", ev.CreateUser(user_name=name))
        row = await iam_queries.get_user(s.db, name)
        click.echo(row["arn"] if row else name)

    _go(fn)


@iam.command("list-users")
def list_users() -> None:
    """List IAM users."""

    async def fn(s: Session) -> None:
        for row in await iam_queries.list_users(s.db):
            click.echo(f"{row['name']}\t{row['arn']}\t{row['created_at']}")

    _go(fn)


@iam.command("delete-user")
@click.argument("name")
def delete_user(name: str) -> None:
    """Delete an IAM user (its keys, policies and group memberships must be gone)."""
    _go(lambda s: s.run("iam", ev.DeleteUser(user_name=name)))


@iam.command("create-access-key")
@click.argument("user")
def create_access_key(user: str) -> None:
    """Create an access key; the secret is shown this once."""

    async def fn(s: Session) -> None:
        key_id = "AKIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
        secret = secrets.token_urlsafe(30)[:40]
        sealed = Vault.open(s.settings.data_dir).encrypt(secret, key_id)
        await s.run(
            "iam",
            ev.CreateAccessKey(user_name=user, access_key_id=key_id, secret_ciphertext=sealed),
        )
        click.echo(json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret}))

    _go(fn)


@iam.command("list-access-keys")
@click.argument("user")
def list_access_keys(user: str) -> None:
    """List a user's access keys."""

    async def fn(s: Session) -> None:
        for row in await iam_queries.list_access_keys(s.db, user):
            click.echo(f"{row['access_key_id']}\t{row['status']}\t{row['created_at']}")

    _go(fn)


@iam.command("update-access-key")
@click.argument("user")
@click.argument("key_id")
@click.argument("status", type=click.Choice(["Active", "Inactive"]))
def update_access_key(user: str, key_id: str, status: str) -> None:
    """Activate or deactivate an access key (takes effect at once)."""
    state = cast(Literal["Active", "Inactive"], status)
    _go(
        lambda s: s.run(
            "iam", ev.UpdateAccessKey(user_name=user, access_key_id=key_id, status=state)
        )
    )


@iam.command("delete-access-key")
@click.argument("user")
@click.argument("key_id")
def delete_access_key(user: str, key_id: str) -> None:
    """Delete an access key."""
    _go(lambda s: s.run("iam", ev.DeleteAccessKey(user_name=user, access_key_id=key_id)))


@iam.command("put-user-policy")
@click.argument("user")
@click.argument("policy_name")
@click.argument("document")
def put_user_policy(user: str, policy_name: str, document: str) -> None:
    """Set an inline policy (DOCUMENT is JSON, or @file)."""
    text = _document(document, "user")
    _go(
        lambda s: s.run(
            "iam", ev.PutUserPolicy(user_name=user, policy_name=policy_name, document=text)
        )
    )


@iam.command("create-group")
@click.argument("name")
def create_group(name: str) -> None:
    """Create a group."""
    _go(lambda s: s.run("iam", ev.CreateGroup(group_name=name)))


@iam.command("add-user-to-group")
@click.argument("group")
@click.argument("user")
def add_user_to_group(group: str, user: str) -> None:
    """Add a user to a group."""
    _go(lambda s: s.run("iam", ev.AddUserToGroup(group_name=group, user_name=user)))


@iam.command("create-policy")
@click.argument("name")
@click.argument("document")
def create_policy(name: str, document: str) -> None:
    """Create a managed policy (DOCUMENT is JSON, or @file); prints its ARN."""
    text = _document(document, "managed")

    async def fn(s: Session) -> None:
        await s.run("iam", ev.CreatePolicy(policy_name=name, document=text))
        click.echo(f"arn:aws:iam::{ev.ACCOUNT}:policy/{name}")

    _go(fn)


@iam.command("attach-user-policy")
@click.argument("user")
@click.argument("policy_arn")
def attach_user_policy(user: str, policy_arn: str) -> None:
    """Attach a managed policy to a user."""
    _go(lambda s: s.run("iam", ev.AttachPolicy(target="user", name=user, policy_arn=policy_arn)))

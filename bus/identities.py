"""Service identities on the bus: each role connects with its own user and may publish only what
its job needs. The server enforces it, so a bug (or an intruder) in one role cannot forge
another role's messages.

| identity   | publish                                    | may not publish                      |
|------------|--------------------------------------------|--------------------------------------|
| supervisor | everything (creates and updates streams)   | —                                    |
| admin      | commands, reads, replay (the `mycloud` CLI) | events, stream administration       |
| api        | commands, blob chunks, reads               | events, stream administration        |
| handler    | events, blob purges, reads                 | commands, stream administration      |
| projector  | notifications, reads                       | commands, events, blob chunks, admin |

Storage sidecars never connect to NATS: the handler hands them bytes (and storage nodes are
reached over HTTP), so they can publish nothing at all.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

STREAM_ADMIN = [
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.COMMANDS",
    "$JS.API.STREAM.PURGE.EVENTS",
    "$JS.API.STREAM.MSG.DELETE.>",
]
DENY: dict[str, list[str]] = {
    "supervisor": [],
    "admin": ["evt.>", *STREAM_ADMIN],
    "api": ["evt.>", *STREAM_ADMIN],
    "handler": ["cmd.>", *STREAM_ADMIN],
    "projector": ["cmd.>", "evt.>", "blob.>", *STREAM_ADMIN],
}
FILE = "nats-users.json"


def identity_for(role: str) -> str:
    """``handler-s3`` and ``handler-iam`` share the handler identity."""
    base = role.split("-", 1)[0]
    return base if base in DENY else "admin"


def ensure(data_dir: Path) -> dict[str, dict[str, str]]:
    """Credentials of every identity, created (mode 0600) on first use."""
    path = data_dir / FILE
    if path.exists():
        users: dict[str, dict[str, str]] = json.loads(path.read_text())
        if set(users) >= set(DENY):
            return users
    users = {name: {"user": name, "password": secrets.token_urlsafe(24)} for name in DENY}
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(users, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return users


def load(data_dir: Path, role: str) -> dict[str, str] | None:
    """The user and password a role connects with: ``MYCLOUD_NATS_USER``/``_PASSWORD``, else the
    stack's credentials file, else None (a server without authorization)."""
    user, password = os.environ.get("MYCLOUD_NATS_USER"), os.environ.get("MYCLOUD_NATS_PASSWORD")
    if user and password:
        return {"user": user, "password": password}
    path = data_dir / FILE
    if not path.exists():
        return None
    return dict(json.loads(path.read_text())[identity_for(role)])


def authorization_block(users: dict[str, dict[str, str]]) -> str:
    """The nats-server config ``authorization`` block for these users."""
    entries = []
    for name, cred in users.items():
        permissions: dict[str, Any] = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
        if DENY.get(name):
            permissions["publish"]["deny"] = DENY[name]
        user, password = json.dumps(cred["user"]), json.dumps(cred["password"])
        entries.append(
            f"    {{user: {user}, password: {password}, permissions: {json.dumps(permissions)}}}"
        )
    return "authorization {\n  users = [\n" + ",\n".join(entries) + "\n  ]\n}\n"

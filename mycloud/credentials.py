"""Root credentials: created on first start, kept in the AWS shared credentials format (0600)."""

from __future__ import annotations

import configparser
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    principal: str = "root"


def generate() -> AccessKey:
    key_id = "MC" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    return AccessKey(key_id, secrets.token_urlsafe(30)[:40])


def ensure_root(path: Path) -> tuple[AccessKey, bool]:
    """The root key at ``path``; created (mode 0600) when absent. Returns (key, created)."""
    if path.exists():
        return load_root(path), False
    key = generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        "[default]\n"
        f"aws_access_key_id = {key.access_key_id}\n"
        f"aws_secret_access_key = {key.secret_access_key}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    return key, True


def load_root(path: Path) -> AccessKey:
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["default"]
    return AccessKey(section["aws_access_key_id"], section["aws_secret_access_key"])


def from_env() -> AccessKey | None:
    key_id = os.environ.get("MYCLOUD_ROOT_ACCESS_KEY_ID")
    secret = os.environ.get("MYCLOUD_ROOT_SECRET_ACCESS_KEY")
    return AccessKey(key_id, secret) if key_id and secret else None

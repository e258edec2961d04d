"""Storage sidecars: where object bytes live. One interface (storage/base.py), four kinds:

    name=disk:/srv/mycloud/blobs                                  local disk (storage/disk.py)
    name=nas:/mnt/share/mycloud[?timeout=10&per_mib=2]            mounted share (storage/nas.py)
    name=node:http://KEY:SECRET@host:port[?timeout=10&per_mib=2&retries=3]
                                                        MyCloud storage node (storage/remote.py)
    name=s3:http://KEY:SECRET@host:port/bucket[/prefix][?region=us-east-1&timeout=...]
                                                        any S3-compatible store (storage/s3.py)

Characters of KEY or SECRET that are special in a URL (``/ @ : ? #``) are percent-encoded.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from storage.base import (
    BlobNotFound,
    DigestMismatch,
    Health,
    LocalSidecar,
    Sidecar,
    Stalled,
    StorageError,
    Stored,
)
from storage.disk import DiskSidecar

__all__ = [
    "BlobNotFound",
    "DigestMismatch",
    "DiskSidecar",
    "Health",
    "LocalSidecar",
    "Sidecar",
    "Stalled",
    "StorageError",
    "Stored",
    "build_sidecar",
    "build_sidecars",
]

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
USERINFO = re.compile(r"(://[^:/@]*:)([^@/]*)@")
# Options each kind takes after '?', and how to read them.
OPTIONS: dict[str, dict[str, type]] = {
    "disk": {},
    "nas": {"timeout": float, "per_mib": float, "threads": int},
    "node": {"timeout": float, "per_mib": float, "retries": int},
    "s3": {"timeout": float, "per_mib": float, "retries": int, "region": str, "part_mib": int},
}


def build_sidecars(specs: list[str]) -> list[Sidecar]:
    """Every ``name=kind:location`` spec as a sidecar; ValueError (one line) for a bad one."""
    sidecars = [build_sidecar(spec) for spec in specs]
    names = [s.name for s in sidecars]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"sidecar names must be unique: {', '.join(duplicates)} repeated")
    return sidecars


def build_sidecar(spec: str) -> Sidecar:
    shown = USERINFO.sub(r"\1***@", spec)  # the message may be logged: never the secret
    name, eq, target = spec.partition("=")
    kind, colon, location = target.partition(":")
    if not eq or not colon or not name or not location:
        raise ValueError(f"sidecar spec {shown!r} is not name=kind:location")
    if not NAME.match(name):
        raise ValueError(f"sidecar spec {shown!r}: name may use only letters, digits, '_.-'")
    if kind not in OPTIONS:
        raise ValueError(
            f"sidecar spec {shown!r}: unknown kind {kind!r} (known: {', '.join(OPTIONS)})"
        )
    try:
        return _build(kind, name, location)
    except ValueError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "invalid"
        if (secret := USERINFO.search(spec)) and secret.group(2):
            detail = detail.replace(secret.group(2), "***")
        raise ValueError(f"sidecar spec {shown!r}: {detail}") from None


def _build(kind: str, name: str, location: str) -> Sidecar:
    if kind == "disk":
        return DiskSidecar(name, location)
    location, _, query = location.partition("?")
    options = _options(kind, query)
    if kind == "nas":
        from storage.nas import NasSidecar

        return NasSidecar(name, location, **options)
    if kind == "node":
        from storage.remote import NodeSidecar

        return NodeSidecar(name, location, **options)
    from storage.s3 import MIB, S3Sidecar

    if "part_mib" in options:
        options["part_size"] = options.pop("part_mib") * MIB
    return S3Sidecar(name, location, **options)


def _options(kind: str, query: str) -> dict[str, Any]:
    allowed = OPTIONS[kind]
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key not in allowed:
            raise ValueError(f"unknown option {key!r} (known: {', '.join(allowed) or 'none'})")
        try:
            parsed = allowed[key](value)
        except ValueError:
            raise ValueError(
                f"option {key}={value!r} is not a valid {allowed[key].__name__}"
            ) from None
        if isinstance(parsed, int | float) and parsed <= 0:
            raise ValueError(f"option {key} must be positive")
        options[key] = parsed
    return options

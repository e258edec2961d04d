"""Storage sidecars: where object bytes live (disk now; nas, node and s3 share the interface)."""

from __future__ import annotations

from pathlib import Path

from storage.base import BlobNotFound, DigestMismatch, Health, Sidecar, StorageError, Stored
from storage.disk import DiskSidecar

__all__ = [
    "BlobNotFound",
    "DigestMismatch",
    "DiskSidecar",
    "Health",
    "Sidecar",
    "StorageError",
    "Stored",
    "build_sidecars",
]


def build_sidecars(specs: list[str]) -> list[DiskSidecar]:
    """``name=kind:location`` specs, e.g. ``disk=disk:/srv/mycloud/blobs``."""
    sidecars = []
    for spec in specs:
        name, _, target = spec.partition("=")
        kind, _, location = target.partition(":")
        if not name or not location:
            raise ValueError(f"sidecar spec {spec!r} is not name=kind:location")
        if kind in ("disk", "nas"):
            sidecars.append(DiskSidecar(name, Path(location)))
        else:
            raise ValueError(f"sidecar kind {kind!r} is not supported yet (disk, nas)")
    return sidecars

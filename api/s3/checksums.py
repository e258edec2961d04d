"""The checksums S3 clients send (x-amz-checksum-*), computed while a body streams through."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import crc32c as _crc32c
from awscrt import checksums as _crt


class _Crc:
    def __init__(self, fn: Callable[[bytes, int], int], size: int = 4) -> None:
        self._fn = fn
        self._size = size
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


FACTORIES: dict[str, Callable[[], Any]] = {
    "CRC32": lambda: _Crc(zlib.crc32),
    "CRC32C": lambda: _Crc(lambda data, value: _crc32c.crc32c(data, value)),
    # CRC-64/NVME: what the AWS CLI v2 and current SDKs checksum uploads with by default;
    # awscrt's implementation is the one AWS's own tools use (hardware-accelerated).
    "CRC64NVME": lambda: _Crc(lambda data, value: _crt.crc64nvme(data, value), size=8),
    "SHA1": lambda: hashlib.sha1(usedforsecurity=False),
    "SHA256": hashlib.sha256,
}
HEADER = "x-amz-checksum-"
SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
NOT_VALUES = frozenset({"x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm"})
"""x-amz-checksum-* headers that are settings, not checksum values."""


class UnsupportedChecksum(ValueError):
    pass


class Checksummer:
    """Feeds every byte to the algorithms a request asked for; compares at the end."""

    def __init__(self, algorithms: set[str]) -> None:
        unknown = algorithms - FACTORIES.keys()
        if unknown:
            raise UnsupportedChecksum(", ".join(sorted(unknown)))
        self._hashers = {a: FACTORIES[a]() for a in algorithms}

    def update(self, data: bytes) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def values(self) -> dict[str, str]:
        return {a: base64.b64encode(h.digest()).decode() for a, h in self._hashers.items()}

    def mismatch(self, expected: Mapping[str, str]) -> str | None:
        """The first algorithm whose expected value differs from what was computed."""
        got = self.values()
        for algorithm, value in expected.items():
            if got.get(algorithm) != value:
                return algorithm
        return None


def requested(headers: Mapping[str, str]) -> tuple[set[str], dict[str, str]]:
    """(algorithms to compute, values given in headers) from a request's headers; trailers named
    in ``x-amz-trailer`` add their algorithm (their value arrives after the body)."""
    algorithms: set[str] = set()
    given: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(HEADER) and lower not in NOT_VALUES:
            algorithm = lower[len(HEADER) :].upper()
            algorithms.add(algorithm)
            given[algorithm] = value
    for name in headers.get("x-amz-trailer", "").split(","):
        name = name.strip().lower()
        if name.startswith(HEADER):
            algorithms.add(name[len(HEADER) :].upper())
    sdk = headers.get("x-amz-sdk-checksum-algorithm")
    if sdk:
        algorithms.add(sdk.upper())
    return algorithms, given


def malformed(given: Mapping[str, str]) -> str | None:
    """The first algorithm whose given value is not base64 of a digest of the right size."""
    for algorithm, value in given.items():
        try:
            digest = base64.b64decode(value, validate=True)
        except ValueError:
            return algorithm
        if len(digest) != SIZES.get(algorithm, len(digest)):
            return algorithm
    return None

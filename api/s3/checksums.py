"""The checksums S3 clients send (x-amz-checksum-*), computed while a body streams through."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from api.errors import ApiError
from storage.checksums import FACTORIES, SIZES

HEADER = "x-amz-checksum-"
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


def check_given(given: Mapping[str, str]) -> None:
    """Refuse (InvalidRequest) a given checksum value that is not base64 of a digest of its
    algorithm's size."""
    bad = malformed(given)
    if bad is not None:
        raise ApiError(
            "InvalidRequest", f"Value for x-amz-checksum-{bad.lower()} header is invalid."
        )


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

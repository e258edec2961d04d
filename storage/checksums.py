"""The checksum algorithms S3 clients use (``x-amz-checksum-*``), and how a multipart upload's
object checksum is made from its parts' checksums.

Two kinds of object checksum for a multipart upload (as S3 defines them):

- ``FULL_OBJECT`` (CRC32, CRC32C, CRC64NVME): the CRC of the whole object, combined from the
  parts' CRCs and sizes without reading a byte again (CRC combination, via awscrt);
- ``COMPOSITE`` (CRC32, CRC32C, SHA1, SHA256): the checksum of the concatenated binary part
  checksums, with ``-<number of parts>`` appended.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Sequence
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
SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
_COMBINE: dict[str, Callable[[int, int, int], int]] = {
    "CRC32": _crt.combine_crc32,
    "CRC32C": _crt.combine_crc32c,
    "CRC64NVME": _crt.combine_crc64nvme,
}
FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"
TYPES = {
    "CRC32": (COMPOSITE, FULL_OBJECT),
    "CRC32C": (COMPOSITE, FULL_OBJECT),
    "CRC64NVME": (FULL_OBJECT,),
    "SHA1": (COMPOSITE,),
    "SHA256": (COMPOSITE,),
}
"""The multipart checksum types each algorithm allows; the first is S3's default."""


def default_type(algorithm: str) -> str:
    return TYPES[algorithm][0]


def checksum_type(value: str) -> str:
    """The type of a stored object checksum: composite ones end in ``-<parts>``."""
    return COMPOSITE if "-" in value else FULL_OBJECT


def multipart(algorithm: str, kind: str, parts: Sequence[tuple[str, int]]) -> str:
    """The object checksum (base64, S3's form) from the parts' (base64 checksum, size)."""
    if kind == FULL_OBJECT:
        combine = _COMBINE[algorithm]
        crc = 0
        for n, (value, size) in enumerate(parts):
            part = int.from_bytes(base64.b64decode(value), "big")
            crc = part if n == 0 else combine(crc, part, size)
        return base64.b64encode(crc.to_bytes(SIZES[algorithm], "big")).decode()
    hasher = FACTORIES[algorithm]()
    for value, _ in parts:
        hasher.update(base64.b64decode(value))
    return f"{base64.b64encode(hasher.digest()).decode()}-{len(parts)}"

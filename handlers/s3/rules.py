"""S3's naming rules for buckets and keys (pure functions, shared by the API and the handler)."""

from __future__ import annotations

import ipaddress
import re

_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 bucket name, or None when it is."""
    if not 3 <= len(name) <= 63:
        return "Bucket names must be between 3 and 63 characters long."
    if not _BUCKET_CHARS.match(name):
        return (
            "Bucket names may contain only lowercase letters, numbers, dots and hyphens, "
            "and must begin and end with a letter or number."
        )
    if ".." in name or ".-" in name or "-." in name:
        return "Bucket names must not contain two adjacent periods or a period next to a hyphen."
    try:
        ipaddress.IPv4Address(name)
        return "Bucket names must not be formatted as an IP address."
    except ValueError:
        pass
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "Bucket names must not use a reserved prefix or suffix."
    return None


def key_problem(key: str) -> tuple[str, str] | None:
    """(code, message) when ``key`` is not a valid object key, or None."""
    if not key:
        return ("InvalidArgument", "Object keys must not be empty.")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        return ("InvalidURI", "Object keys must be valid UTF-8.")
    if len(raw) > MAX_KEY_BYTES:
        return ("KeyTooLongError", f"Object keys are at most {MAX_KEY_BYTES} bytes of UTF-8.")
    if "\x00" in key:
        return ("InvalidArgument", "Object keys must not contain NUL characters.")
    return None

"""Authentication: who is calling. HTTP Basic with an access key id and secret for now.

Keys resolve through a ``KeyStore`` so that SigV4 (which needs the secret to recompute the
signature) and IAM-managed keys plug in later without touching the routes.
"""

from __future__ import annotations

import base64
import hmac
from typing import Protocol

from aiohttp import web

from api.errors import ApiError
from mycloud.credentials import AccessKey


class KeyStore(Protocol):
    def find(self, access_key_id: str) -> AccessKey | None: ...


class StaticKeyStore:
    def __init__(self, keys: list[AccessKey]) -> None:
        self._keys = {k.access_key_id: k for k in keys}

    def find(self, access_key_id: str) -> AccessKey | None:
        return self._keys.get(access_key_id)


def authenticate(request: web.Request, keys: KeyStore) -> str:
    """The calling principal, or ApiError (401 without credentials, 403 with wrong ones)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise ApiError(
            "Unauthorized", "Send HTTP Basic credentials: your access key id and secret."
        )
    try:
        key_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise ApiError("Unauthorized", "Malformed Basic credentials.") from None
    if not sep:
        raise ApiError("Unauthorized", "Malformed Basic credentials.")
    key = keys.find(key_id)
    if key is None:
        raise ApiError("InvalidAccessKeyId")
    if not hmac.compare_digest(key.secret_access_key.encode(), secret.encode()):
        raise ApiError("SignatureDoesNotMatch", "The secret does not match the access key id.")
    return key.principal

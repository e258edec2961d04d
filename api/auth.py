"""Authentication on the native API: HTTP Basic with an access key id and its secret, resolved
through the same identity store as SigV4 on the AWS endpoint (root and IAM users' keys)."""

from __future__ import annotations

import base64
import hmac

from aiohttp import web

from api.errors import ApiError
from api.identity import Identity, IdentityStore


async def authenticate(request: web.Request, identities: IdentityStore) -> Identity:
    """The caller, or ApiError (401 without credentials, 403 with wrong ones)."""
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
    identity = await identities.lookup(key_id)
    if identity is None:
        raise ApiError("InvalidAccessKeyId")
    if not hmac.compare_digest(identity.secret.encode(), secret.encode()):
        raise ApiError("SignatureDoesNotMatch", "The secret does not match the access key id.")
    return identity

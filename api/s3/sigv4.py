"""AWS Signature Version 4 verification (header and presigned-query auth) for the S3 endpoint.

Works on plain values (method, raw path, raw query, headers) rather than an aiohttp request, so
it is unit-tested against what botocore really signs and can serve IAM/STS later. It runs on
every request: fast paths skip re-encoding already-canonical input and signing keys are cached,
since deriving one costs four HMACs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from multidict import CIMultiDict, CIMultiDictProxy

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW_SECONDS = 15 * 60
MAX_EXPIRES_SECONDS = 7 * 24 * 3600

_STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_PAYLOAD_LITERALS = frozenset((UNSIGNED_PAYLOAD, *_STREAMING))
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_DATE8 = re.compile(r"[0-9]{8}")
_SAFE_PATH = re.compile(r"[A-Za-z0-9\-._~/]*")
_SAFE = re.compile(r"[A-Za-z0-9\-._~]*")
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_PARAMS = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
# Bound into the signature by the string to sign / payload line even when not listed.
_IMPLICITLY_SIGNED = frozenset({"x-amz-date", "x-amz-content-sha256"})
_HEADER_MALFORMED = "The authorization header is malformed; "
_SCOPE_SHAPE = 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
_WRONG_DATE = "Invalid credential date. Date is not the same as X-Amz-Date."
_UNSUPPORTED = "The authorization mechanism you have provided is not supported. Please use "
_PAYLOAD_VALUES = "UNSIGNED-PAYLOAD, STREAMING-*-PAYLOAD[-TRAILER] or a valid sha256 value."
_QUERY_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_TWO_MECHANISMS = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
    "query string parameter or the Authorization header should be specified"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_Headers = CIMultiDictProxy[str] | CIMultiDict[str]
# credential, amz_date, SignedHeaders, provided signature, payload hash
_Auth = tuple["Credential", str, str, str, str]


class SigV4Error(Exception):
    """An S3 error code + message; ``details`` are extra error-XML elements (StringToSign...)."""

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str] = details


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class Verified:
    access_key_id: str
    credential: Credential
    signing_key: bytes = field(repr=False)  # kept out of logs: it signs for a whole day
    seed_signature: str
    amz_date: str
    payload_hash: str  # x-amz-content-sha256 as signed, or UNSIGNED-PAYLOAD
    presigned: bool


def parse_scope(value: str) -> Credential:
    """``AKID/YYYYMMDD/region/service/aws4_request`` as a Credential; ValueError if malformed."""
    parts = value.split("/")
    if len(parts) != 5 or not all(parts[:4]) or not _DATE8.fullmatch(parts[1]):
        raise ValueError(_SCOPE_SHAPE + 'aws4_request".')
    if parts[4] != "aws4_request":
        raise ValueError(f'incorrect terminal "{parts[4]}". This endpoint uses "aws4_request".')
    return Credential(parts[0], parts[1], parts[2], parts[3])


def is_anonymous(query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """True when the request carries no authentication at all (neither v4 nor v2)."""
    if "Authorization" in headers or "authorization" in headers:
        return False
    return not any(k in query for k in (*_QUERY_AUTH, "AWSAccessKeyId", "Signature"))


def service_of(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str | None:
    """The service named in the credential scope, unverified: only for routing S3 vs IAM/STS."""
    authorization = headers.get("Authorization") or headers.get("authorization")
    if authorization:
        start = authorization.find("Credential=")
        scope = authorization[start + 11 :].split(",", 1)[0].strip() if start >= 0 else ""
    else:
        scope = query.get("X-Amz-Credential") or ""
        if "/" not in scope:  # a raw (still percent-encoded) query mapping
            scope = unquote_to_bytes(scope).decode("utf-8", "replace")
    parts = scope.split("/")
    return parts[3] if len(parts) == 5 and parts[3] else None


def access_key_of(query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The access key id a request claims (unverified): for looking up its secret."""
    authorization = headers.get("Authorization") or headers.get("authorization")
    if authorization:
        start = authorization.find("Credential=")
        if start < 0:
            return None
        return authorization[start + 11 :].split("/", 1)[0].strip() or None
    scope = query.get("X-Amz-Credential")
    return scope.split("/", 1)[0] if scope else None


def check_payload(verified: Verified, sha256_hex: str) -> None:
    """Raise XAmzContentSHA256Mismatch when a signed payload hash disagrees with the body's."""
    claimed = verified.payload_hash
    if claimed in _PAYLOAD_LITERALS or hmac.compare_digest(claimed.lower(), sha256_hex.lower()):
        return
    why = "The provided 'x-amz-content-sha256' header does not match what was computed."
    details = {"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": sha256_hex}
    raise SigV4Error("XAmzContentSHA256Mismatch", why, **details)


@lru_cache(maxsize=512)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The day's SigV4 signing key for a credential scope (cached): what POST policies and
    chunk signatures are signed with."""
    return _signing_key(secret, date, region, service)


def _uri_encode(raw: str, plus_is_space: bool = False) -> str:
    """Decode, then AWS-URI-encode one path segment or query key/value."""
    if _SAFE.fullmatch(raw):
        return raw
    if plus_is_space:  # form-style '+' in a query means space; clients sign it as %20
        raw = raw.replace("+", " ")
    return quote(unquote_to_bytes(raw.encode("utf-8", "surrogateescape")), safe="")


def canonical_uri(raw_path: str) -> str:
    """S3 signs the path as sent (no dot-segment or '//' normalisation), AWS-encoded."""
    if _SAFE_PATH.fullmatch(raw_path):
        return raw_path or "/"
    return "/".join(_uri_encode(segment) for segment in raw_path.split("/"))


def _parse_query(query_string: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Canonically encoded pairs, plus the decoded values of the auth parameters."""
    pairs: list[tuple[str, str]] = []
    params: dict[str, str] = {}
    for piece in query_string.split("&") if query_string else ():
        if piece:
            key, _, value = piece.partition("=")
            key, value = _uri_encode(key, True), _uri_encode(value, True)
            pairs.append((key, value))
            if key.startswith(("X-Amz-", "AWSAccessKeyId", "Signature")):
                params[key] = unquote_to_bytes(value).decode("utf-8", "replace")
    return pairs, params


def _epoch(d: str) -> float | None:
    if not _AMZ_DATE.fullmatch(d):
        return None
    try:  # 3.11 parses the basic form in C; strptime would cost a fifth of a verification
        return datetime.fromisoformat(d).timestamp()
    except ValueError:
        return None


def _payload_hash(value: str) -> str:
    if value in _PAYLOAD_LITERALS or _HEX64.fullmatch(value):
        return value
    raise SigV4Error("InvalidArgument", f"x-amz-content-sha256 must be {_PAYLOAD_VALUES}")


def _request_time(headers: _Headers) -> tuple[str, float]:
    """x-amz-date, else the Date header (signed in ISO basic form); AccessDenied if neither."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None and (stamp := _epoch(amz_date)) is not None:
        return amz_date, stamp
    if amz_date is None and (date_header := headers.get("Date")) is not None:
        try:
            parsed = parsedate_to_datetime(date_header)
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            return parsed.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"), parsed.timestamp()
        except (TypeError, ValueError):
            pass
    raise SigV4Error(
        "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
    )


def _header_auth(value: str, headers: _Headers, now: float) -> _Auth:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error("InvalidRequest", _UNSUPPORTED + ALGORITHM)
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        why = "requires three components: Credential, SignedHeaders, and Signature."
        raise SigV4Error("AuthorizationHeaderMalformed", f"{_HEADER_MALFORMED}the header {why}")
    try:
        credential = parse_scope(fields["Credential"])
    except ValueError as e:
        raise SigV4Error("AuthorizationHeaderMalformed", _HEADER_MALFORMED + str(e)) from None
    amz_date, stamp = _request_time(headers)
    if credential.date != amz_date[:8]:
        raise SigV4Error("AuthorizationHeaderMalformed", _HEADER_MALFORMED + _WRONG_DATE)
    if abs(now - stamp) > MAX_SKEW_SECONDS:
        why = "The difference between the request time and the current time is too large."
        raise SigV4Error("RequestTimeTooSkewed", why, RequestTime=amz_date)
    content_sha = headers.get("x-amz-content-sha256")
    if content_sha is None:
        why = "Missing required header for this request: x-amz-content-sha256"
        raise SigV4Error("InvalidRequest", why)
    if "x-amz-content-sha256" not in fields["SignedHeaders"].split(";"):
        why = "header 'x-amz-content-sha256' must be included in signature"
        raise SigV4Error("InvalidRequest", why)
    signed, signature = fields["SignedHeaders"], fields["Signature"]
    return credential, amz_date, signed, signature, _payload_hash(content_sha)


def _query_auth(params: dict[str, str], headers: _Headers, now: float) -> _Auth:
    code = "AuthorizationQueryParametersError"
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise SigV4Error(code, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if any(k not in params for k in (*_QUERY_PARAMS, "X-Amz-Signature")):
        raise SigV4Error(code, _QUERY_REQUIRED)
    scope, amz_date, expires_s, signed = (params[k] for k in _QUERY_PARAMS)
    try:
        credential = parse_scope(scope)
    except ValueError as e:
        raise SigV4Error(code, f"Error parsing the X-Amz-Credential parameter; {e}") from None
    if (stamp := _epoch(amz_date)) is None:
        raise SigV4Error(code, "X-Amz-Date must be in the ISO8601 Long Format yyyyMMddTHHmmssZ")
    if not (expires_s.isascii() and expires_s.isdigit()):
        raise SigV4Error(code, "X-Amz-Expires should be a number")
    if not 1 <= (expires := int(expires_s)) <= MAX_EXPIRES_SECONDS:
        raise SigV4Error(code, "X-Amz-Expires must be between 1 and 604800 seconds (a week)")
    if credential.date != amz_date[:8]:
        raise SigV4Error(code, _WRONG_DATE)
    if stamp - now > MAX_SKEW_SECONDS:
        raise SigV4Error("AccessDenied", "Request is not valid yet")
    if now > stamp + expires:
        raise SigV4Error("AccessDenied", "Request has expired")
    content_sha = headers.get("x-amz-content-sha256")
    payload = UNSIGNED_PAYLOAD if content_sha is None else _payload_hash(content_sha)
    return credential, amz_date, signed, params["X-Amz-Signature"], payload


def _canonical_headers(headers: _Headers, names: list[str], query_auth: bool) -> str:
    if "host" not in names:
        code = "AuthorizationQueryParametersError" if query_auth else "AuthorizationHeaderMalformed"
        raise SigV4Error(code, "SignedHeaders must include host.")
    lines = []
    for name in names:
        if (values := headers.getall(name, None)) is None:
            why = f"Your request was missing a required header: {name}"
            raise SigV4Error("MissingSecurityHeader", why)
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    x_amz = {n.lower() for n in headers if n[:6].lower() == "x-amz-"}
    if unsigned := sorted(x_amz - set(names) - _IMPLICITLY_SIGNED):
        # Else a proxy or a presigned-URL holder could add e.g. x-amz-acl to a signed request.
        why = "There were headers present in the request which were not signed"
        raise SigV4Error("AccessDenied", why, HeadersNotSigned=", ".join(unsigned))
    return "".join(lines)


def verify(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
) -> Verified:
    """Verify a SigV4-signed request or raise SigV4Error with the S3 error code.

    ``raw_path`` is the path exactly as sent, without the query; ``query_string`` the raw query
    (aiohttp: ``request.raw_path.partition("?")[0]``, ``request.rel_url.raw_query_string``).
    """
    hdrs = headers if isinstance(headers, CIMultiDictProxy | CIMultiDict) else CIMultiDict(headers)
    pairs, params = _parse_query(query_string)
    authorization = hdrs.get("Authorization")
    query_auth = any(k in params for k in _QUERY_AUTH)
    clock = time.time() if now is None else now.timestamp()
    if authorization is not None and query_auth:
        raise SigV4Error("InvalidArgument", _TWO_MECHANISMS)
    if authorization is not None:
        auth = _header_auth(authorization, hdrs, clock)
    elif query_auth:
        auth = _query_auth(params, hdrs, clock)
        pairs = [pair for pair in pairs if pair[0] != "X-Amz-Signature"]
    elif "AWSAccessKeyId" in params or "Signature" in params:
        raise SigV4Error("InvalidRequest", _UNSUPPORTED + ALGORITHM)
    else:
        raise SigV4Error("AccessDenied", "Access Denied")
    credential, amz_date, signed, provided, payload_hash = auth
    canonical_headers = _canonical_headers(hdrs, signed.split(";"), query_auth)
    if (secret := lookup_secret(credential.access_key_id)) is None:
        why = "The AWS Access Key Id you provided does not exist in our records."
        raise SigV4Error("InvalidAccessKeyId", why, AWSAccessKeyId=credential.access_key_id)
    key = _signing_key(secret, credential.date, credential.region, credential.service)
    query = "&".join([f"{k}={v}" for k, v in sorted(pairs)])
    uri = canonical_uri(raw_path)
    canonical = f"{method}\n{uri}\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}"
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    to_sign = f"{ALGORITHM}\n{amz_date}\n{credential.scope}\n{digest}"
    expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        raise SigV4Error(
            "SignatureDoesNotMatch",
            _MISMATCH,
            AWSAccessKeyId=credential.access_key_id,
            StringToSign=to_sign,
            SignatureProvided=provided,
            CanonicalRequest=canonical,
        )
    return Verified(
        credential.access_key_id, credential, key, expected, amz_date, payload_hash, query_auth
    )

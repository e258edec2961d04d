"""SigV4 verification against requests that botocore really signs, and AWS's published vectors.

Requests are captured from a real boto3 client at botocore's ``before-send`` event, i.e. exactly
what would go on the wire, without a server: the hook raises to stop the send.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

from api.s3.sigv4 import (
    EMPTY_SHA256,
    SigV4Error,
    Verified,
    check_payload,
    is_anonymous,
    parse_scope,
    service_of,
    verify,
)

AKID, SECRET = "AKIDEXAMPLE0000001", "s3cr3t/with+odd=chars"
ENDPOINT, HOST = "http://127.0.0.1:9000", "127.0.0.1:9000"
KEYS = {AKID: SECRET, "OTHERKEY": "other-secret"}
KEYS_WITH_ODD_CHARS = [
    "plain.txt",
    "with space/and more spaces.txt",
    "unicodé/ключ/日本語.txt",
    "plus+equals=amp&hash#q?.bin",
    "tilde~and_under-score.dot",
    "slashes//double///triple/",
    "percent%20literal%2Fnot-a-slash%",
    "sub-delims !$'()*,;:@[]",
    "./dot/../segments/.",
]


@dataclass
class Req:
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]

    def verify(self, now: datetime | None = None, keys: dict[str, str] = KEYS) -> Verified:
        return verify(
            self.method, self.path, self.query, CIMultiDictProxy(self.headers), keys.get, now
        )


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    raise Captured(request)


@pytest.fixture(scope="module", params=["python-signer", "crt-signer"])
def s3(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A boto3 client signing with botocore's own SigV4 code, and one signing with the AWS CRT's
    (what botocore picks when awscrt is installed, as it is here): users run either."""
    import botocore.auth

    saved = dict(botocore.auth.AUTH_TYPE_MAPS)
    if request.param == "python-signer":
        botocore.auth.AUTH_TYPE_MAPS["s3v4"] = S3SigV4Auth
        botocore.auth.AUTH_TYPE_MAPS["s3v4-query"] = botocore.auth.S3SigV4QueryAuth
    elif "awscrt" not in sys.modules and not _has_crt():
        pytest.skip("awscrt is not installed")
    try:
        yield _client()
    finally:
        botocore.auth.AUTH_TYPE_MAPS.clear()
        botocore.auth.AUTH_TYPE_MAPS.update(saved)


def _has_crt() -> bool:
    try:
        import awscrt  # noqa: F401
    except ImportError:
        return False
    return True


def _client() -> Any:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        # Without s3v4, boto3 presigns with SigV2 (see test_default_boto3_presign_is_sigv2).
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 0},
        ),
    )
    client.meta.events.register("before-send.s3", _capture)
    return client


def sent(call: Callable[..., Any], **params: Any) -> Req:
    """The request a boto3 client call puts on the wire, as our server would see it."""
    with pytest.raises(Captured) as captured:
        call(**params)
    prepared = captured.value.request
    parts = urlsplit(prepared.url)
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in prepared.headers.items():
        headers.add(name, value.decode() if isinstance(value, bytes) else value)
    if "Host" not in headers:  # botocore's own signer leaves it to the HTTP layer; CRT's sets it
        headers["Host"] = HOST
    return Req(prepared.method, parts.path, parts.query, headers)


def presigned(s3: Any, method: str, params: dict[str, Any], expires: int = 3600) -> Req:
    parts = urlsplit(s3.generate_presigned_url(method, Params=params, ExpiresIn=expires))
    verb = "PUT" if method.startswith("put") else "GET"
    return Req(verb, parts.path, parts.query, CIMultiDict({"Host": HOST}))


def error_of(req: Req, now: datetime | None = None) -> SigV4Error:
    with pytest.raises(SigV4Error) as raised:
        req.verify(now)
    return raised.value


# --- AWS's documented examples (docs: sig-v4-header-based-auth, query auth, streaming) ---

DOC_KEYS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
DOC_NOW = datetime(2013, 5, 24, 0, 5, tzinfo=UTC)
DOC_SCOPE = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
AWS4 = "AWS4-HMAC-SHA256"


def doc_request(method: str, path: str, signed: str, signature: str, **headers: str) -> Req:
    auth = f"{AWS4} Credential={DOC_SCOPE},SignedHeaders={signed},Signature={signature}"
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return Req(method, path, "", CIMultiDict({**sent, "Authorization": auth}))


def doc_get_object() -> Req:
    return doc_request(
        "GET",
        "/test.txt",
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        Host="examplebucket.s3.amazonaws.com",
        Range="bytes=0-9",
        x_amz_content_sha256=EMPTY_SHA256,
        x_amz_date="20130524T000000Z",
    )


def test_aws_documented_get_object_verifies() -> None:
    verified = doc_get_object().verify(DOC_NOW, DOC_KEYS)
    assert verified.seed_signature.startswith("f0e8bdb87c96")
    assert verified.credential == parse_scope(DOC_SCOPE)
    assert (verified.amz_date, verified.payload_hash, verified.presigned) == (
        "20130524T000000Z",
        EMPTY_SHA256,
        False,
    )


def test_aws_documented_presigned_url_verifies_and_expires() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
        "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
        "X-Amz-SignedHeaders=host&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    req = Req("GET", "/test.txt", query, CIMultiDict({"Host": "examplebucket.s3.amazonaws.com"}))
    verified = req.verify(DOC_NOW, DOC_KEYS)
    assert verified.presigned and verified.payload_hash == "UNSIGNED-PAYLOAD"
    with pytest.raises(SigV4Error) as raised:
        req.verify(DOC_NOW + timedelta(days=1), DOC_KEYS)
    assert (raised.value.code, raised.value.message) == ("AccessDenied", "Request has expired")


def test_aws_documented_chunked_upload_seed_signature() -> None:
    req = doc_request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        Host="s3.amazonaws.com",
        x_amz_date="20130524T000000Z",
        x_amz_storage_class="REDUCED_REDUNDANCY",
        x_amz_content_sha256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        Content_Encoding="aws-chunked",
        x_amz_decoded_content_length="66560",
        Content_Length="66824",
    )
    verified = req.verify(DOC_NOW, DOC_KEYS)
    assert verified.seed_signature == (
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    )
    assert verified.payload_hash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


# --- real botocore requests ---


@pytest.mark.parametrize("key", KEYS_WITH_ODD_CHARS)
def test_botocore_object_requests_verify_for_odd_keys(s3: Any, key: str) -> None:
    body = b"hello \x00 world"
    put = sent(s3.put_object, Bucket="bkt", Key=key, Body=body, Metadata={"m": "v  x"})
    verified = put.verify()
    assert verified.access_key_id == AKID and not verified.presigned
    check_payload(verified, __import__("hashlib").sha256(body).hexdigest())
    assert put.headers["Authorization"].endswith("Signature=" + verified.seed_signature)
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (s3.get_object, {"Range": "bytes=0-3"}),
        (s3.head_object, {}),
        (s3.delete_object, {"VersionId": "v 1/+"}),
        (s3.put_object_tagging, {"Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
        (s3.create_multipart_upload, {}),
        (s3.upload_part, {"UploadId": "up/1+2 3", "PartNumber": 3, "Body": b"part"}),
        (s3.copy_object, {"CopySource": {"Bucket": "src", "Key": key}}),
    ]
    for call, params in calls:
        req = sent(call, Bucket="bkt", Key=key, **params)
        assert req.verify().access_key_id == AKID, (call, req)


@pytest.mark.parametrize(
    ("call", "params", "expected_query"),
    [
        ("list_objects_v2", {"Prefix": "a b", "Delimiter": "/"}, "list-type=2"),
        ("list_objects_v2", {"Prefix": "ü+%/~", "StartAfter": "x y"}, "start-after="),
        ("get_bucket_versioning", {}, "versioning"),
        ("get_bucket_tagging", {}, "tagging"),
        ("list_multipart_uploads", {"Prefix": "p"}, "uploads"),
        ("delete_objects", {"Delete": {"Objects": [{"Key": "a b"}, {"Key": "c"}]}}, "delete"),
        ("list_object_versions", {"KeyMarker": "k&=m"}, "versions"),
    ],
)
def test_botocore_bucket_subresources_verify(
    s3: Any, call: str, params: dict[str, Any], expected_query: str
) -> None:
    req = sent(getattr(s3, call), Bucket="bkt", **params)
    assert expected_query in req.query
    assert req.verify().credential.service == "s3"


def test_list_objects_query_as_sent(s3: Any) -> None:
    req = sent(s3.list_objects_v2, Bucket="bkt", Prefix="a b", Delimiter="/")
    assert sorted(req.query.split("&")) == [
        "delimiter=%2F",
        "encoding-type=url",
        "list-type=2",
        "prefix=a%20b",
    ]
    req.verify()


@pytest.mark.parametrize("key", KEYS_WITH_ODD_CHARS)
def test_presigned_urls_verify(s3: Any, key: str) -> None:
    get = presigned(s3, "get_object", {"Bucket": "bkt", "Key": key, "VersionId": "a b"})
    verified = get.verify()
    assert verified.presigned and verified.payload_hash == "UNSIGNED-PAYLOAD"
    put = presigned(s3, "put_object", {"Bucket": "bkt", "Key": key}, expires=604800)
    assert put.verify().presigned


def test_client_encoding_variants_still_match(s3: Any) -> None:
    """Clients differ in how they escape what botocore signed; the canonical form must not."""
    req = sent(s3.list_objects_v2, Bucket="bkt", Prefix="a b", Delimiter="/")
    req.query = req.query.replace("prefix=a%20b", "prefix=a+b").replace("%2F", "%2f")
    req.verify()
    req = sent(s3.head_object, Bucket="bkt", Key="x (1)!.txt")
    assert req.path == "/bkt/x%20%281%29%21.txt"
    req.path = "/bkt/x%20(1)!.txt"
    req.verify()
    req.path = "/bkt/x%20%281%29%21%2etxt"
    req.verify()


def test_date_header_instead_of_x_amz_date() -> None:
    request = AWSRequest("GET", f"{ENDPOINT}/bkt/k", headers={"Date": "x"})
    S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(request)
    assert "X-Amz-Date" not in request.headers
    headers = CIMultiDict({"Host": HOST, **dict(request.headers.items())})
    Req("GET", "/bkt/k", "", headers).verify()


# --- tampering and the exact error codes ---


def test_tampering_is_signature_does_not_match(s3: Any) -> None:
    base = sent(s3.put_object, Bucket="bkt", Key="k", Body=b"x", ContentType="text/plain")
    auth = base.headers["Authorization"]
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    cases: list[Callable[[Req], None]] = [
        lambda r: r.headers.__setitem__("Authorization", flipped),
        lambda r: r.headers.__setitem__("Content-Type", "text/html"),
        lambda r: r.headers.__setitem__("x-amz-content-sha256", EMPTY_SHA256),
        lambda r: setattr(r, "path", "/bkt/K"),
        lambda r: setattr(r, "query", "acl"),
        lambda r: setattr(r, "method", "POST"),
        lambda r: r.headers.__setitem__("Host", "evil.example:9000"),
    ]
    for tamper in cases:
        req = Req(base.method, base.path, base.query, base.headers.copy())
        tamper(req)
        err = error_of(req)
        assert err.code == "SignatureDoesNotMatch", (err, req)
        assert err.details["CanonicalRequest"].startswith(req.method + "\n")
        assert err.details["StringToSign"].startswith("AWS4-HMAC-SHA256\n")


def test_presigned_tampering(s3: Any) -> None:
    req = presigned(s3, "get_object", {"Bucket": "bkt", "Key": "k", "VersionId": "1"})
    req.query = req.query.replace("versionId=1", "versionId=2")
    assert error_of(req).code == "SignatureDoesNotMatch"
    req = presigned(s3, "get_object", {"Bucket": "bkt", "Key": "k"})
    req.query = req.query.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:-1]
    assert error_of(req).code == "SignatureDoesNotMatch"
    req = presigned(s3, "get_object", {"Bucket": "bkt", "Key": "k"})
    req.query += "&extra=1"
    assert error_of(req).code == "SignatureDoesNotMatch"


def test_wrong_body_hash_is_content_sha256_mismatch(s3: Any) -> None:
    verified = sent(s3.put_object, Bucket="bkt", Key="k", Body=b"abc").verify()
    with pytest.raises(SigV4Error) as raised:
        check_payload(verified, __import__("hashlib").sha256(b"abd").hexdigest())
    assert raised.value.code == "XAmzContentSHA256Mismatch"
    check_payload(presigned(s3, "put_object", {"Bucket": "b", "Key": "k"}).verify(), "00")


def test_expired_and_future_presigned_urls(s3: Any) -> None:
    req = presigned(s3, "get_object", {"Bucket": "bkt", "Key": "k"}, expires=60)
    now = datetime.now(UTC)
    req.verify(now + timedelta(seconds=50))
    err = error_of(req, now + timedelta(seconds=125))
    assert (err.code, err.message) == ("AccessDenied", "Request has expired")
    err = error_of(req, now - timedelta(minutes=20))
    assert (err.code, err.message) == ("AccessDenied", "Request is not valid yet")


def test_clock_skew_over_15_minutes(s3: Any) -> None:
    req = sent(s3.get_object, Bucket="bkt", Key="k")
    now = datetime.now(UTC)
    req.verify(now + timedelta(minutes=14))
    req.verify(now - timedelta(minutes=14))
    for delta in (timedelta(minutes=16), timedelta(minutes=-16), timedelta(days=2)):
        err = error_of(req, now + delta)
        assert err.code == "RequestTimeTooSkewed"
        assert err.details["RequestTime"] == req.headers["x-amz-date"]


def test_unknown_access_key(s3: Any) -> None:
    for req in (
        sent(s3.get_object, Bucket="b", Key="k"),
        presigned(s3, "get_object", {"Bucket": "b", "Key": "k"}),
    ):
        with pytest.raises(SigV4Error) as raised:
            req.verify(keys={"OTHERKEY": "x"})
        assert raised.value.code == "InvalidAccessKeyId"
        assert raised.value.details["AWSAccessKeyId"] == AKID


def test_wrong_secret_is_signature_mismatch(s3: Any) -> None:
    with pytest.raises(SigV4Error) as raised:
        sent(s3.get_object, Bucket="b", Key="k").verify(keys={AKID: "not-the-secret"})
    assert raised.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("old", "new", "message_part"),
    [
        (", Signature=", ", Sig=", "three components"),
        ("Credential=", "Cred=", "three components"),
        (f"Credential={AKID}/", f"Credential={AKID}/2024", "mal-formed"),
        ("/us-east-1/s3/", "/us-east-1/", "mal-formed"),
        ("/aws4_request", "/aws5_request", 'incorrect terminal "aws5_request"'),
    ],
)
def test_malformed_authorization(s3: Any, old: str, new: str, message_part: str) -> None:
    req = sent(s3.get_object, Bucket="b", Key="k")
    assert old in req.headers["Authorization"]
    req.headers["Authorization"] = req.headers["Authorization"].replace(old, new)
    err = error_of(req)
    assert err.code == "AuthorizationHeaderMalformed" and message_part in err.message, err


def test_credential_date_must_match_request_date(s3: Any) -> None:
    req = sent(s3.get_object, Bucket="b", Key="k")
    date = req.headers["x-amz-date"][:8]
    req.headers["Authorization"] = req.headers["Authorization"].replace(f"/{date}/", "/20000101/")
    err = error_of(req)
    assert err.code == "AuthorizationHeaderMalformed" and "Invalid credential date" in err.message


def test_header_rules(s3: Any) -> None:
    req = sent(s3.get_object, Bucket="b", Key="k")
    del req.headers["x-amz-content-sha256"]
    assert (error_of(req).code, error_of(req).message) == (
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    )
    req = sent(s3.get_object, Bucket="b", Key="k")
    req.headers["x-amz-content-sha256"] = "not-a-hash"
    assert error_of(req).code == "InvalidArgument"
    req = sent(s3.get_object, Bucket="b", Key="k")
    req.headers["x-amz-acl"] = "public-read"  # added after signing: must not ride along
    err = error_of(req)
    assert (err.code, err.details["HeadersNotSigned"]) == ("AccessDenied", "x-amz-acl")
    req = sent(s3.get_object, Bucket="b", Key="k")
    del req.headers["x-amz-date"]
    assert error_of(req).code == "AccessDenied"
    req = sent(s3.get_object, Bucket="b", Key="k", Range="bytes=1-2")
    del req.headers["Range"]
    assert error_of(req).code == "MissingSecurityHeader"
    req = sent(s3.get_object, Bucket="b", Key="k")
    req.headers["Authorization"] = req.headers["Authorization"].replace(
        "SignedHeaders=host;", "SignedHeaders="
    )
    assert error_of(req).code == "AuthorizationHeaderMalformed"


def test_presigned_url_rejects_unsigned_amz_header(s3: Any) -> None:
    req = presigned(s3, "put_object", {"Bucket": "b", "Key": "k"})
    req.headers["x-amz-acl"] = "public-read"
    assert error_of(req).code == "AccessDenied"


@pytest.mark.parametrize(
    ("old", "new", "message_part"),
    [
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1", "only supports"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=0", "between 1 and 604800"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=604801", "between 1 and 604800"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=1h", "should be a number"),
        ("X-Amz-Expires=3600&", "", "requires the X-Amz-Algorithm"),
        ("%2Faws4_request", "%2Fother", "incorrect terminal"),
        ("X-Amz-Date=2", "X-Amz-Date=x2", "ISO8601"),
        ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range", "must include host"),
    ],
)
def test_query_parameter_errors(s3: Any, old: str, new: str, message_part: str) -> None:
    req = presigned(s3, "get_object", {"Bucket": "b", "Key": "k"})
    assert old in req.query
    req.query = req.query.replace(old, new)
    err = error_of(req)
    assert err.code == "AuthorizationQueryParametersError" and message_part in err.message, err


def test_mechanism_errors(s3: Any) -> None:
    req = presigned(s3, "get_object", {"Bucket": "b", "Key": "k"})
    req.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=0"
    assert error_of(req).code == "InvalidArgument"
    req = Req("GET", "/b/k", "", CIMultiDict({"Host": HOST, "Authorization": "AWS AKID:c2ln"}))
    assert error_of(req).code == "InvalidRequest"
    req = Req("GET", "/b/k", "AWSAccessKeyId=A&Expires=1&Signature=x", CIMultiDict(Host=HOST))
    assert error_of(req).code == "InvalidRequest"
    anonymous = Req("GET", "/b/k", "versionId=1", CIMultiDict({"Host": HOST}))
    assert error_of(anonymous).code == "AccessDenied"


def test_default_boto3_presign_is_sigv2_and_refused() -> None:
    """boto3's generate_presigned_url uses SigV2 unless the client says s3v4: not supported."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
    )
    parts = urlsplit(
        client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    )
    client.close()
    req = Req("GET", parts.path, parts.query, CIMultiDict({"Host": HOST}))
    if "X-Amz-Signature=" in parts.query:  # should botocore ever default to v4 presigning
        assert req.verify().presigned
        return
    assert "AWSAccessKeyId=" in parts.query and "Signature=" in parts.query
    err = error_of(req)
    assert err.code == "InvalidRequest" and "AWS4-HMAC-SHA256" in err.message


def test_is_anonymous_and_service_of(s3: Any) -> None:
    signed = sent(s3.get_object, Bucket="b", Key="k")
    url = presigned(s3, "get_object", {"Bucket": "b", "Key": "k"})
    decoded_query = dict(pair.split("=", 1) for pair in url.query.split("&"))
    assert is_anonymous({"versionId": "1"}, CIMultiDict({"Host": HOST}))
    assert not is_anonymous({}, signed.headers)
    assert not is_anonymous(decoded_query, url.headers)
    assert not is_anonymous({"AWSAccessKeyId": "A", "Signature": "s"}, {})
    assert service_of("GET", "/b/k", {}, signed.headers) == "s3"
    assert service_of("GET", "/b/k", decoded_query, url.headers) == "s3"
    iam = "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/iam/aws4_request, SignedHeaders="
    assert service_of("POST", "/", {}, {"Authorization": iam}) == "iam"
    assert service_of("GET", "/", {"X-Amz-Credential": "AK/20240101/r/sts/aws4_request"}, {}) == (
        "sts"
    )
    assert service_of("GET", "/", {}, {}) is None
    assert service_of("GET", "/", {}, {"Authorization": "Basic Zm9vOmJhcg=="}) is None


def test_parse_scope() -> None:
    assert parse_scope("AK/20240131/eu-west-1/s3/aws4_request") == parse_scope(
        "AK/20240131/eu-west-1/s3/aws4_request"
    )
    cred = parse_scope("AK/20240131/eu-west-1/s3/aws4_request")
    assert (cred.access_key_id, cred.date, cred.region, cred.service) == (
        "AK",
        "20240131",
        "eu-west-1",
        "s3",
    )
    assert cred.scope == "20240131/eu-west-1/s3/aws4_request"
    for bad in (
        "AK/2024013/r/s/aws4_request",
        "AK/20240131/r/s",
        "/20240131/r/s/aws4_request",
        "AK/2024013\u0661/r/s/aws4_request",
        "AK/20240131/r/s/aws4_request/x",
    ):
        with pytest.raises(ValueError):
            parse_scope(bad)


def test_verified_keeps_signing_key_out_of_repr(s3: Any) -> None:
    verified = sent(s3.get_object, Bucket="b", Key="k").verify()
    assert len(verified.signing_key) == 32
    assert verified.signing_key.hex() not in repr(verified)
    assert "signing_key" not in repr(verified)


def test_verification_is_fast(s3: Any) -> None:
    req = sent(
        s3.upload_part,
        Bucket="bkt",
        Key="some/key name.txt",
        UploadId="u-1",
        PartNumber=3,
        Body=b"x",
    )
    headers, lookup = CIMultiDictProxy(req.headers), KEYS.get
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            verify(req.method, req.path, req.query, headers, lookup)
        best = min(best, (time.perf_counter() - start) / 200)
    assert best < 100e-6, f"{best * 1e6:.1f} µs per verification"

"""aws-chunked decoding: AWS's published vectors, an encoder written from AWS's documentation,
and what botocore really sends (captured before sending, and through a real TLS aiohttp server).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import random
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import crc32c
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

from api.s3.chunked import ChunkedDecoder
from api.s3.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Credential,
    SigV4Error,
    Verified,
    check_payload,
    verify,
)

AKID, SECRET = "AKIDCHUNKED0000001", "chunk/secret+key"
KEYS = {AKID: SECRET}
EMPTY = hashlib.sha256(b"").hexdigest()
PAYLOAD = bytes(random.Random(7).randbytes(200_003))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signing_key(secret: str, date: str, region: str = "us-east-1") -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def encode(
    payload: bytes,
    chunk: int,
    verified: Verified | None = None,
    trailers: dict[str, str] | None = None,
    *,
    key: bytes | None = None,
    lf_variant: bool = False,
) -> bytes:
    """aws-chunked framing as AWS documents it (sigv4-streaming, sigv4-streaming-trailers)."""
    out = bytearray()
    previous = verified.seed_signature if verified else ""
    scope = verified.credential.scope if verified else ""
    date = verified.amz_date if verified else ""
    key = key or (verified.signing_key if verified else b"")
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for piece in pieces:
        if verified is None:
            out += b"%x\r\n" % len(piece)
        else:
            to_sign = f"AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{previous}\n{EMPTY}\n"
            to_sign += sha(piece)
            previous = hmac_hex(key, to_sign)
            out += f"{len(piece):x};chunk-signature={previous}\r\n".encode()
        if piece:
            out += piece + b"\r\n"
    if trailers:
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(trailers.items()))
        out += (canonical + "\r\n" if lf_variant else canonical.replace("\n", "\r\n")).encode()
        if verified is not None:
            to_sign = f"AWS4-HMAC-SHA256-TRAILER\n{date}\n{scope}\n{previous}\n"
            to_sign += sha(canonical.encode())
            out += f"x-amz-trailer-signature:{hmac_hex(key, to_sign)}\r\n".encode()
    return bytes(out + b"\r\n")


def signed_request(mode: str, length: int, trailer: str | None = None) -> Verified:
    """A streaming PUT signed by botocore's SigV4 signer (S3's own signer would hash the body)."""
    headers = {
        "x-amz-content-sha256": mode,
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(length),
    }
    if trailer:
        headers["x-amz-trailer"] = trailer
    request = AWSRequest("PUT", "http://127.0.0.1:9000/bkt/some-key", headers=headers)
    SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(request)
    received = CIMultiDict({"Host": "127.0.0.1:9000", **dict(request.headers.items())})
    verified = verify("PUT", "/bkt/some-key", "", received, KEYS.get)
    assert verified.signing_key == signing_key(SECRET, verified.credential.date)
    return verified


def feed_in(decoder: ChunkedDecoder, wire: bytes, sizes: Iterator[int]) -> list[bytes]:
    out, pos = [], 0
    while pos < len(wire):
        step = next(sizes)
        out += decoder.feed(wire[pos : pos + step])
        pos += step
    return out


def splits(kind: str) -> Iterator[int]:
    rng = random.Random(kind)
    while True:
        yield {
            "whole": 1 << 30,
            "bytes": 1,
            "random": rng.randint(1, 9000),
            "tiny": rng.randint(1, 7),
        }[kind]


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def failure(decoder: ChunkedDecoder, wire: bytes, finish: bool = True) -> SigV4Error:
    with pytest.raises(SigV4Error) as raised:
        decoder.feed(wire)
        if finish:
            decoder.finish()
    return raised.value


# --- AWS's published vectors ---

DOC_SEEDS = {
    STREAMING_SIGNED: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    STREAMING_SIGNED_TRAILER: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
}
DOC_CHUNK_SIGNATURES = {
    STREAMING_SIGNED: [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ],
    STREAMING_SIGNED_TRAILER: [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ],
}
DOC_TRAILER = {"x-amz-checksum-crc32c": "sOO8/Q=="}
DOC_TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def doc_verified(mode: str) -> Verified:
    credential = Credential("AKIAIOSFODNN7EXAMPLE", "20130524", "us-east-1", "s3")
    key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524")
    return Verified(
        credential.access_key_id, credential, key, DOC_SEEDS[mode], "20130524T000000Z", mode, False
    )


@pytest.mark.parametrize("mode", [STREAMING_SIGNED, STREAMING_SIGNED_TRAILER])
def test_aws_documented_chunked_upload(mode: str) -> None:
    payload = b"a" * 66560
    trailers = DOC_TRAILER if mode == STREAMING_SIGNED_TRAILER else None
    wire = encode(payload, 65536, doc_verified(mode), trailers)
    for signature in DOC_CHUNK_SIGNATURES[mode]:  # our encoder agrees with AWS's example
        assert f"chunk-signature={signature}\r\n".encode() in wire
    if trailers:
        assert base64.b64encode(crc32c.crc32c(payload).to_bytes(4, "big")).decode() == "sOO8/Q=="
        assert wire.endswith(f"{DOC_TRAILER_SIGNATURE}\r\n\r\n".encode())
    else:
        assert len(wire) == 66824  # the documented Content-Length
    for kind in ("whole", "bytes", "random"):
        decoder = ChunkedDecoder(doc_verified(mode), mode, ",".join(trailers or ()), 66560)
        out = feed_in(decoder, wire, splits(kind))
        assert [len(piece) for piece in out] == [65536, 1024]  # whole chunks, once verified
        assert b"".join(out) == payload
        assert decoder.finish() == (trailers or {})
        assert decoder.decoded_bytes == 66560


def test_trailer_separated_from_signature_by_blank_line() -> None:
    """Some clients end trailing headers with LF and then a CRLF before the signature."""
    mode = STREAMING_SIGNED_TRAILER
    wire = encode(b"a" * 66560, 65536, doc_verified(mode), DOC_TRAILER, lf_variant=True)
    assert b"sOO8/Q==\n\r\nx-amz-trailer-signature:" in wire
    decoder = ChunkedDecoder(doc_verified(mode), mode, "x-amz-checksum-crc32c", 66560)
    assert len(b"".join(feed_in(decoder, wire, splits("tiny")))) == 66560
    assert decoder.finish() == DOC_TRAILER
    bad = wire.replace(DOC_TRAILER_SIGNATURE.encode(), b"0" * 64)
    decoder = ChunkedDecoder(doc_verified(mode), mode, "x-amz-checksum-crc32c", 66560)
    assert failure(decoder, bad).code == "SignatureDoesNotMatch"


# --- our own signed requests, every way of splitting them ---


@pytest.mark.parametrize("kind", ["whole", "bytes", "random", "tiny"])
@pytest.mark.parametrize(
    "mode", [STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]
)
def test_round_trip_any_split(mode: str, kind: str) -> None:
    payload = PAYLOAD if kind != "bytes" else PAYLOAD[:70_000]
    trailer = {"x-amz-checksum-crc32": crc32_b64(payload)} if mode != STREAMING_SIGNED else None
    verified = signed_request(mode, len(payload), ",".join(trailer or ()))
    wire = encode(payload, 65536, verified if mode != STREAMING_UNSIGNED_TRAILER else None, trailer)
    decoder = ChunkedDecoder.from_headers(
        verified,
        CIMultiDict(
            {
                "x-amz-content-sha256": mode,
                "x-amz-decoded-content-length": str(len(payload)),
                **({"x-amz-trailer": "x-amz-checksum-crc32"} if trailer else {}),
            }
        ),
    )
    out = feed_in(decoder, wire, splits(kind))
    assert b"".join(out) == payload
    if mode != STREAMING_UNSIGNED_TRAILER:  # signed: released chunk by chunk, never more
        assert [len(p) for p in out] == [
            min(65536, len(payload) - i) for i in range(0, len(payload), 65536)
        ]
    trailers = decoder.finish()
    assert trailers == (trailer or {})
    if trailer:
        assert trailers["x-amz-checksum-crc32"] == crc32_b64(b"".join(out))


def test_signed_chunk_is_released_as_soon_as_it_is_complete() -> None:
    verified = signed_request(STREAMING_SIGNED, 100_000)
    wire = encode(PAYLOAD[:100_000], 65536, verified)
    first_end = wire.index(b"\r\n") + 2 + 65536
    decoder = ChunkedDecoder(verified, STREAMING_SIGNED, None, 100_000)
    assert decoder.feed(wire[: first_end - 1]) == []  # one byte short: not verified yet
    assert decoder.feed(wire[first_end - 1 : first_end]) == [PAYLOAD[:65536]]


def test_unsigned_data_is_released_as_it_arrives() -> None:
    wire = encode(PAYLOAD[:5000], 4096, None, {"x-amz-checksum-crc32": crc32_b64(PAYLOAD[:5000])})
    decoder = ChunkedDecoder(None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc32", 5000)
    assert decoder.feed(wire[:106]) == [PAYLOAD[:100]]  # "1000\r\n" + 100 bytes of data
    assert b"".join(decoder.feed(wire[106:])) == PAYLOAD[100:5000]
    assert decoder.finish() == {"x-amz-checksum-crc32": crc32_b64(PAYLOAD[:5000])}


# --- corruption and the exact error codes ---


def signed_wire(
    mode: str = STREAMING_SIGNED_TRAILER, n: int = 30, chunk: int = 10
) -> tuple[Verified, bytes]:
    payload = PAYLOAD[:n]
    trailer = {"x-amz-checksum-crc32": crc32_b64(payload)} if mode != STREAMING_SIGNED else None
    verified = signed_request(mode, n, ",".join(trailer or ()))
    return verified, encode(payload, chunk, verified, trailer)


def decoder_for(verified: Verified, mode: str = STREAMING_SIGNED_TRAILER, n: int = 30) -> Any:
    trailer = "x-amz-checksum-crc32" if mode != STREAMING_SIGNED else None
    return ChunkedDecoder(verified, mode, trailer, n)


def test_tampered_chunks_fail_signature() -> None:
    verified, wire = signed_wire()
    first_data = wire.index(b"\r\n") + 2
    flipped = wire[:first_data] + bytes([wire[first_data] ^ 1]) + wire[first_data + 1 :]
    sig_at = wire.index(b"chunk-signature=") + 16
    bad_sig = wire[:sig_at] + (b"0" if wire[sig_at] != 48 else b"1") + wire[sig_at + 1 :]
    chunks = wire.split(b"\r\n")
    swapped = b"\r\n".join([chunks[2], chunks[3], chunks[0], chunks[1], *chunks[4:]])
    unsigned = wire.replace(wire[wire.index(b";") : wire.index(b"\r\n")], b"", 1)
    trailer_at = wire.index(b"x-amz-checksum-crc32:") + 21
    bad_trailer = wire[:trailer_at] + b"AAAAAA==" + wire[trailer_at + 8 :]
    for bad in (flipped, bad_sig, swapped, unsigned, bad_trailer):
        err = failure(decoder_for(verified), bad)
        assert err.code == "SignatureDoesNotMatch", (err, bad)
    err = failure(decoder_for(verified), flipped, finish=False)  # caught before finish()
    assert "StringToSign" in err.details


def test_wrong_key_or_seed_fails() -> None:
    verified, wire = signed_wire()
    other = Verified(
        verified.access_key_id,
        verified.credential,
        b"k" * 32,
        verified.seed_signature,
        verified.amz_date,
        verified.payload_hash,
        False,
    )
    assert failure(decoder_for(other), wire).code == "SignatureDoesNotMatch"
    reseeded = Verified(
        verified.access_key_id,
        verified.credential,
        verified.signing_key,
        "0" * 64,
        verified.amz_date,
        verified.payload_hash,
        False,
    )
    assert failure(decoder_for(reseeded), wire).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    "mode", [STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]
)
def test_every_truncation_is_incomplete_body(mode: str) -> None:
    verified, wire = signed_wire(mode if mode != STREAMING_UNSIGNED_TRAILER else STREAMING_SIGNED)
    if mode == STREAMING_UNSIGNED_TRAILER:
        wire = encode(PAYLOAD[:30], 10, None, {"x-amz-checksum-crc32": crc32_b64(PAYLOAD[:30])})
    # Stopping after the complete trailer lines but before the closing CRLF is tolerated.
    tolerated = len(wire) - 2 if mode != STREAMING_SIGNED else len(wire)
    for cut in range(len(wire)):
        decoder = decoder_for(verified, mode)
        decoder.feed(wire[:cut])
        if cut == tolerated:
            assert decoder.finish()["x-amz-checksum-crc32"] == crc32_b64(PAYLOAD[:30])
            continue
        with pytest.raises(SigV4Error) as raised:
            decoder.finish()
        assert raised.value.code == "IncompleteBody", cut


def test_decoded_length_must_match() -> None:
    verified, wire = signed_wire()
    assert failure(decoder_for(verified, n=31), wire).code == "IncompleteBody"
    err = failure(decoder_for(verified, n=29), wire, finish=False)  # refused while streaming
    assert err.code == "IncompleteBody"
    decoder = ChunkedDecoder(verified, STREAMING_SIGNED_TRAILER, "x-amz-checksum-crc32", None)
    decoder.feed(wire)
    assert decoder.finish()  # no declared length: nothing to compare


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", "InvalidArgument"),  # size is not hex
        (b"0x3\r\nabc\r\n0\r\n\r\n", "InvalidArgument"),
        (b"3\nabc\r\n0\r\n\r\n", "InvalidArgument"),  # bare LF in framing
        (b"3\r\nabcd\r\n0\r\n\r\n", "InvalidArgument"),  # data longer than declared
        (b"3\r\nabc\r\n0\r\nx-amz-checksum-sha1:x\r\n\r\n", "InvalidArgument"),  # undeclared
        (b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n", "InvalidArgument"),
        (b"3\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),  # declared trailer missing
        (b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:x\r\n\r\nmore", "InvalidArgument"),
        (
            b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:x\r\nx-amz-trailer-signature:0\r\n\r\n",
            "InvalidArgument",
        ),  # a signature on an unsigned trailer
        (b"1000001\r\n", "InvalidArgument"),  # 16 MiB + 1: we would have to buffer it
        (b"9" * 5000, "InvalidArgument"),  # a header line that never ends
    ],
)
def test_malformed_framing(wire: bytes, code: str) -> None:
    decoder = ChunkedDecoder(None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc32", None)
    assert failure(decoder, wire).code == code
    with pytest.raises(SigV4Error):  # a failed decoder stays failed
        decoder.feed(b"0\r\n\r\n")


def test_trailers_only_in_trailer_modes_and_signature_required() -> None:
    verified, wire = signed_wire(STREAMING_SIGNED)
    with_trailer = wire[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert failure(decoder_for(verified, STREAMING_SIGNED), with_trailer).code == (
        "InvalidArgument"
    )
    verified, wire = signed_wire()
    no_signature = wire[: wire.index(b"x-amz-trailer-signature")] + b"\r\n"
    assert failure(decoder_for(verified), no_signature).code == "SignatureDoesNotMatch"


def test_constructor_checks() -> None:
    with pytest.raises(SigV4Error) as raised:
        ChunkedDecoder(None, "UNSIGNED-PAYLOAD")
    assert raised.value.code == "InvalidArgument"
    with pytest.raises(ValueError):
        ChunkedDecoder(None, STREAMING_SIGNED)
    with pytest.raises(SigV4Error) as raised:
        ChunkedDecoder.from_headers(
            None,
            CIMultiDict(
                {
                    "x-amz-content-sha256": STREAMING_UNSIGNED_TRAILER,
                    "x-amz-decoded-content-length": "-1",
                }
            ),
        )
    assert raised.value.code == "InvalidArgument"


# --- what botocore really sends ---


class Captured(Exception):
    pass


def _capture(request: Any, **_: Any) -> None:
    raise Captured(request)


def client(endpoint: str, verify_tls: str | bool = True) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        verify=verify_tls,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
    )


@pytest.mark.parametrize("body", [b"", b"hello world", PAYLOAD * 8])
def test_botocore_https_put_object_is_unsigned_trailer(body: bytes) -> None:
    """botocore ≥1.36 over HTTPS: STREAMING-UNSIGNED-PAYLOAD-TRAILER, crc32 trailer, 1 MiB."""
    s3 = client("https://127.0.0.1:9443")
    s3.meta.events.register("before-send.s3", _capture)
    for call, extra in [(s3.put_object, {}), (s3.upload_part, {"UploadId": "u", "PartNumber": 2})]:
        with pytest.raises(Captured) as captured:
            call(Bucket="bkt", Key="a key", Body=io.BytesIO(body), **extra)
        prepared = captured.value.args[0]
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in prepared.headers.items():
            headers.add(name, value.decode() if isinstance(value, bytes) else value)
        if "Host" not in headers:  # botocore's own signer leaves it out; CRT's sets it
            headers["Host"] = "127.0.0.1:9443"
        assert headers["x-amz-content-sha256"] == STREAMING_UNSIGNED_TRAILER
        assert headers["Content-Encoding"] == "aws-chunked"
        assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
        assert headers["x-amz-decoded-content-length"] == str(len(body))
        parts = urlsplit(prepared.url)
        verified = verify("PUT", parts.path, parts.query, CIMultiDictProxy(headers), KEYS.get)
        wire = prepared.body.read()
        decoder = ChunkedDecoder.from_headers(verified, headers)
        out = feed_in(decoder, wire, splits("random"))
        assert b"".join(out) == body
        assert decoder.finish() == {"x-amz-checksum-crc32": crc32_b64(body)}
    s3.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a throwaway certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.fixture
async def server(tls: tuple[ssl.SSLContext, Path]) -> AsyncIterator[tuple[str, list[Any]]]:
    """An aiohttp endpoint doing what the S3 handler will: verify, decode, checksum."""
    seen: list[Any] = []

    async def put(request: web.Request) -> web.Response:
        path, _, query = request.raw_path.partition("?")
        verified = verify(request.method, path, query, request.headers, KEYS.get)
        pieces, trailers = [], {}
        if verified.payload_hash.startswith("STREAMING-"):
            decoder = ChunkedDecoder.from_headers(verified, request.headers)
            async for piece in request.content.iter_any():
                pieces += decoder.feed(piece)
            trailers = decoder.finish()
        else:
            pieces.append(await request.read())
            check_payload(verified, sha(pieces[0]))
        seen.append((CIMultiDict(request.headers), b"".join(pieces), trailers))
        return web.Response(headers={"ETag": '"0"'})

    app = web.Application(client_max_size=8 << 20)
    app.router.add_put("/{tail:.*}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    sockets = []
    for context in (tls[0], None):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        await web.SockSite(runner, sock, ssl_context=context).start()
    https, http = (s.getsockname()[1] for s in sockets)
    yield f"https://127.0.0.1:{https} http://127.0.0.1:{http} {tls[1]}", seen
    await runner.cleanup()


async def test_real_botocore_put_object_through_aiohttp(server: tuple[str, list[Any]]) -> None:
    endpoints, seen = server
    https, http, cert = endpoints.split()
    body = PAYLOAD * 6  # 1.2 MB: botocore cuts 1 MiB chunks
    for endpoint in (https, http):
        s3 = client(endpoint, cert)
        await asyncio.to_thread(s3.put_object, Bucket="bkt", Key="dir/a b+c.txt", Body=body)
        s3.close()
    (tls_headers, tls_body, tls_trailers), (plain_headers, plain_body, plain_trailers) = seen
    assert tls_body == plain_body == body
    assert tls_headers["X-Amz-Content-SHA256"] == STREAMING_UNSIGNED_TRAILER
    assert tls_headers["Transfer-Encoding"] == "chunked"
    assert tls_trailers == {"x-amz-checksum-crc32": crc32_b64(body)}
    assert plain_headers["X-Amz-Content-SHA256"] == sha(body)  # http: signed payload
    assert plain_headers["x-amz-checksum-crc32"] == crc32_b64(body) and plain_trailers == {}

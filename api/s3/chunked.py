"""Incremental decoder for ``Content-Encoding: aws-chunked`` request bodies.

Wire format (after HTTP's own Transfer-Encoding is undone by aiohttp)::

    <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n   ... repeated, then a 0-size chunk,
    <trailer-name>:<value>\\r\\n ... [x-amz-trailer-signature:<sig>\\r\\n] \\r\\n

Signed chunks are held until complete and released only once their signature (chained from the
seed signature) checks out, so unauthenticated bytes never reach storage; unsigned chunks are
released as they arrive. Checksums of the decoded bytes are the caller's business.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from api.s3.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    SigV4Error,
    Verified,
)

MAX_CHUNK_SIZE = 16 * 1024 * 1024  # SDKs send 64 KiB (signed) to 1 MiB (botocore unsigned)
_MAX_LINE = 4096  # a chunk header is ~90 bytes; bounds what a hostile client makes us buffer
_MAX_TRAILERS = 16
_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_HEADER, _DATA, _DATA_END, _TRAILER, _DONE, _FAILED = range(6)
_SIGNATURE = "x-amz-trailer-signature"


def _malformed(message: str) -> SigV4Error:
    return SigV4Error("InvalidArgument", f"Malformed aws-chunked body: {message}")


class ChunkedDecoder:
    """Feed the raw body in pieces of any size; get decoded payload pieces back.

    In an aiohttp handler, after ``verified = sigv4.verify(...)``::

        decoder = ChunkedDecoder.from_headers(verified, request.headers)
        async for piece in request.content.iter_any():
            for data in decoder.feed(piece):
                ...  # checksum and store ``data``
        trailers = decoder.finish()  # e.g. {"x-amz-checksum-crc32": "DUoRhQ=="}
    """

    def __init__(
        self,
        verified: Verified | None,
        mode: str,
        trailer_names: str | Iterable[str] | None = None,
        decoded_length: int | None = None,
        *,
        max_chunk_size: int = MAX_CHUNK_SIZE,
    ) -> None:
        if mode not in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
            raise SigV4Error("InvalidArgument", f"x-amz-content-sha256 {mode!r} is not aws-chunked")
        self._signed = mode != STREAMING_UNSIGNED_TRAILER
        if self._signed and verified is None:
            raise ValueError(f"{mode} needs the Verified request for its chunk signatures")
        self._trailer_mode = mode != STREAMING_SIGNED
        if isinstance(trailer_names, str):
            trailer_names = trailer_names.split(",")
        self._declared = {n.strip().lower() for n in trailer_names or () if n.strip()}
        self._decoded_length = decoded_length
        self._max_chunk = max_chunk_size
        if verified is not None:  # the chunk string-to-sign prefix is the same for every chunk
            scope = verified.credential.scope
            self._key = verified.signing_key
            self._prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{verified.amz_date}\n{scope}\n"
            self._trailer_prefix = f"AWS4-HMAC-SHA256-TRAILER\n{verified.amz_date}\n{scope}\n"
            self._previous = verified.seed_signature
        self._state = _HEADER
        self._line = bytearray()
        self._remaining = 0  # bytes of the current chunk's data still to come
        self._chunk_signature = ""
        self._parts: list[memoryview] = []
        self._hash = hashlib.sha256()
        self._total = 0
        self._trailers: dict[str, str] = {}
        self._trailer_signature: str | None = None
        self._awaiting_signature = False

    @classmethod
    def from_headers(cls, verified: Verified | None, headers: Mapping[str, str]) -> ChunkedDecoder:
        """Build from the request headers (a case-insensitive mapping such as aiohttp's)."""
        length = headers.get("x-amz-decoded-content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            raise SigV4Error("InvalidArgument", "x-amz-decoded-content-length must be a number")
        mode = headers.get("x-amz-content-sha256", "")
        trailer = headers.get("x-amz-trailer")
        return cls(verified, mode, trailer, None if length is None else int(length))

    @property
    def decoded_bytes(self) -> int:
        return self._total

    def feed(self, data: bytes) -> list[bytes]:
        """Consume the next piece of the raw body; return the payload bytes it completed."""
        if self._state == _FAILED:
            raise SigV4Error("InvalidRequest", "The aws-chunked body already failed to decode")
        if not isinstance(data, bytes):  # signed chunks keep views of it until they complete
            data = bytes(data)
        try:
            return self._feed(data)
        except SigV4Error:
            self._state = _FAILED
            raise

    def finish(self) -> dict[str, str]:
        """Call at end of body: validate the ending and length; return the trailing headers."""
        signature_pending = self._signed and self._trailer_signature is None
        if self._state == _TRAILER and not self._line and self._trailers:
            if self._awaiting_signature:  # trailing headers, a blank line, then nothing
                raise SigV4Error("SignatureDoesNotMatch", "x-amz-trailer-signature is missing")
            if not signature_pending:
                # Tolerate a body that stops right after its last trailer line, without the
                # closing blank line: the trailer itself is complete (and signed).
                self._end_trailers()
        if self._state != _DONE:
            self._state = _FAILED
            raise SigV4Error("IncompleteBody", "The request body terminated unexpectedly")
        if self._decoded_length is not None and self._total != self._decoded_length:
            raise SigV4Error(
                "IncompleteBody",
                f"Decoded {self._total} bytes but x-amz-decoded-content-length "
                f"is {self._decoded_length}",
            )
        return dict(self._trailers)

    def _feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            if self._state == _DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                pos += take
                self._remaining -= take
                if not self._signed:  # no copy when a piece lies wholly inside one chunk
                    out.append(data if take == end else bytes(piece))
                else:
                    self._hash.update(piece)
                    self._parts.append(piece)
                    if not self._remaining:
                        self._check_chunk(self._hash.hexdigest())
                        out.append(b"".join(self._parts))
                        self._parts.clear()
                        self._hash = hashlib.sha256()
                if not self._remaining:
                    self._state = _DATA_END
                continue
            if self._state == _DONE:
                raise _malformed("data after the final chunk")
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += view[pos:]
                if len(self._line) > _MAX_LINE:
                    raise _malformed("line too long")
                return out
            line = bytes(self._line + view[pos:newline]) if self._line else data[pos:newline]
            self._line.clear()
            pos = newline + 1
            self._on_line(line)
        return out

    def _on_line(self, line: bytes) -> None:
        if self._state == _TRAILER:
            self._on_trailer_line(line.removesuffix(b"\r"))  # some clients end these with LF
            return
        if not line.endswith(b"\r"):
            raise _malformed("lines must end with CRLF")
        line = line[:-1]
        if self._state == _DATA_END:
            if line:
                raise _malformed("chunk data longer than its declared size")
            self._state = _HEADER
            return
        size_field, _, extension = line.partition(b";")
        if not _SIZE.fullmatch(size_field):
            raise _malformed(f"bad chunk size {size_field[:20]!r}")
        size = int(size_field, 16)
        if size > self._max_chunk:
            raise _malformed(f"chunk of {size} bytes exceeds {self._max_chunk}")
        name, _, value = extension.partition(b"=")
        signature = value.strip().decode("ascii", "replace") if name.strip() else ""
        if self._signed and (name.strip() != b"chunk-signature" or not signature):
            raise SigV4Error("SignatureDoesNotMatch", "A chunk-signature is missing")
        self._total += size
        if self._decoded_length is not None and self._total > self._decoded_length:
            why = "More data than x-amz-decoded-content-length declared"
            raise SigV4Error("IncompleteBody", why)
        self._chunk_signature, self._remaining = signature, size
        if size:
            self._state = _DATA
            return
        if self._signed:
            self._check_chunk(EMPTY_SHA256)
        self._state = _TRAILER

    def _on_trailer_line(self, line: bytes) -> None:
        if not line:
            # A blank line ends the trailer, except where a client puts one between the
            # trailing headers and their signature (seen as "...\n\r\nx-amz-trailer-signature").
            pending = self._signed and self._trailers and self._trailer_signature is None
            if self._trailer_mode and pending and not self._awaiting_signature:
                self._awaiting_signature = True
            else:
                self._end_trailers()
            return
        if not self._trailer_mode:
            raise _malformed("trailing headers without a -TRAILER x-amz-content-sha256")
        name_b, sep, value_b = line.partition(b":")
        name = name_b.strip().decode("ascii", "replace").lower()
        value = value_b.strip().decode("utf-8", "replace")
        if not sep or self._trailer_signature is not None:
            raise _malformed("bad trailing header line")
        if name == _SIGNATURE and self._signed:
            self._check_trailer(value)
        elif name not in self._declared or name in self._trailers:
            raise _malformed(f"trailing header {name!r} was not declared in x-amz-trailer")
        elif len(self._trailers) >= _MAX_TRAILERS:
            raise _malformed("too many trailing headers")
        else:
            self._trailers[name] = value

    def _end_trailers(self) -> None:
        if self._signed and self._trailer_mode and self._trailer_signature is None:
            if self._trailers or self._declared:
                raise SigV4Error("SignatureDoesNotMatch", "x-amz-trailer-signature is missing")
        if missing := sorted(self._declared - self._trailers.keys()):
            raise SigV4Error("InvalidRequest", f"Missing trailing header(s): {', '.join(missing)}")
        self._state = _DONE

    def _check_chunk(self, chunk_sha256: str) -> None:
        to_sign = f"{self._prefix}{self._previous}\n{EMPTY_SHA256}\n{chunk_sha256}"
        self._previous = self._verify(to_sign, self._chunk_signature, "chunk")

    def _check_trailer(self, provided: str) -> None:
        # Canonical trailing headers: "name:value\n" each, sorted by name, as the SDKs sign them.
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(self._trailers.items()))
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        self._verify(f"{self._trailer_prefix}{self._previous}\n{digest}", provided, "trailer")
        self._trailer_signature = provided

    def _verify(self, to_sign: str, provided: str, what: str) -> str:
        expected = hmac.digest(self._key, to_sign.encode(), "sha256").hex()
        if not hmac.compare_digest(expected.encode(), provided.encode("ascii", "replace")):
            raise SigV4Error(
                "SignatureDoesNotMatch",
                f"The {what} signature we calculated does not match the one you provided.",
                StringToSign=to_sign,
                SignatureProvided=provided,
            )
        return expected

"""Helpers shared by the S3-compatibility e2e tests (boto3 and the aws cli against the stack)."""

from __future__ import annotations

import base64
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.error import HTTPError

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.stack import Stack

MIB = 1024 * 1024


def unique(prefix: str = "s3c") -> str:
    """A bucket name no other test uses (the stack is shared by a module's tests)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def make_bucket(s3: Any, **kwargs: Any) -> str:
    name = unique()
    s3.create_bucket(Bucket=name, **kwargs)
    return name


@contextmanager
def s3_error(code: str, status: int) -> Iterator[pytest.ExceptionInfo[ClientError]]:
    """Expect the call inside to fail with S3 error ``code`` and HTTP ``status``."""
    with pytest.raises(ClientError) as info:
        yield info
    error = info.value.response["Error"]
    got = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (error.get("Code"), got) == (code, status), info.value.response


def all_keys(s3: Any, bucket: str, **kwargs: Any) -> list[str]:
    """Every key of a bucket, through ListObjectsV2 pagination."""
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kwargs):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def pattern(size: int, seed: bytes = b"mycloud") -> bytes:
    """Deterministic, non-repeating-looking bytes (so offsets matter in comparisons)."""
    block = b"".join(seed + i.to_bytes(4, "big") for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


class Raw:
    """Hand-made SigV4-signed requests: for bodies boto3 would never send."""

    def __init__(self, stack: Stack) -> None:
        self.base = stack.s3_url
        self.credentials = Credentials(*stack.credentials)

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        request = AWSRequest(method=method, url=self.base + path, data=body, headers=headers)
        if request.headers.get("X-Amz-Content-SHA256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            # botocore signs this mode (instead of the body's hash) for a trailing checksum
            request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
        S3SigV4Auth(self.credentials, "s3", "us-east-1").add_auth(request)
        prepared = request.prepare()
        sent = urllib.request.Request(
            prepared.url,
            data=body if method in ("PUT", "POST") else None,
            method=method,
            headers=dict(prepared.headers.items()),
        )
        try:
            with urllib.request.urlopen(sent, timeout=30) as r:
                return r.status, dict(r.headers.items()), r.read()
        except HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()


def error_code(body: bytes) -> str:
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return root.findtext("Code") or ""


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()

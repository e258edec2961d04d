"""POST upload policies, checked as S3 checks them (pure logic of api/s3/post_object.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from api.errors import ApiError
from api.s3.post_object import check_policy, decode_policy

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FUTURE = "2026-11-22T13:00:00.000Z"


def refused(doc: dict, values: dict[str, str], code: str) -> str:
    with pytest.raises(ApiError) as info:
        check_policy(doc, values, NOW)
    assert info.value.code == code
    return info.value.message


def test_conditions_that_hold_pass_and_give_the_length_range() -> None:
    doc = {
        "expiration": FUTURE,
        "conditions": [
            {"bucket": "photos"},
            ["starts-with", "$key", "user/ada/"],
            ["eq", "$Content-Type", "image/png"],
            ["starts-with", "$x-amz-meta-tag", ""],
            ["content-length-range", 10, 2048],
        ],
    }
    values = {
        "bucket": "photos",
        "key": "user/ada/${filename}",
        "content-type": "image/png",
        "policy": "...",
        "x-amz-signature": "...",
        "x-ignore-tracking": "1",
    }
    assert check_policy(doc, values, NOW) == (10, 2048)


def test_a_failed_condition_names_it() -> None:
    doc = {"expiration": FUTURE, "conditions": [["starts-with", "$key", "user/ada/"]]}
    message = refused(doc, {"key": "user/bob/x"}, "AccessDenied")
    assert message.endswith('Policy Condition failed: ["starts-with","$key","user/ada/"]')
    exact = {"expiration": FUTURE, "conditions": [{"acl": "private"}]}
    refused(exact, {}, "AccessDenied")  # a condition on a field the form lacks fails
    refused(exact, {"acl": "public-read"}, "AccessDenied")


def test_every_field_must_be_named_by_a_condition() -> None:
    doc = {"expiration": FUTURE, "conditions": [{"key": "k"}]}
    message = refused(doc, {"key": "k", "x-amz-meta-sneaky": "1"}, "AccessDenied")
    assert message.endswith("Extra input fields: x-amz-meta-sneaky")


def test_content_type_lists_must_all_start_with_the_prefix() -> None:
    doc = {"expiration": FUTURE, "conditions": [["starts-with", "$Content-Type", "image/"]]}
    assert check_policy(doc, {"content-type": "image/png, image/jpeg"}, NOW) is None
    refused(doc, {"content-type": "image/png, text/html"}, "AccessDenied")


def test_expired_and_malformed_policies() -> None:
    past = {"expiration": "2026-11-22T11:59:59Z", "conditions": []}
    assert refused(past, {}, "AccessDenied").endswith("Policy expired.")
    refused({"conditions": []}, {}, "InvalidPolicyDocument")
    refused({"expiration": "soon", "conditions": []}, {}, "InvalidPolicyDocument")
    refused({"expiration": FUTURE}, {}, "InvalidPolicyDocument")
    for bad in (["between", "$key", "a"], ["content-length-range", 5, 1], ["eq", "key", "a"]):
        refused({"expiration": FUTURE, "conditions": [bad]}, {"key": "a"}, "InvalidPolicyDocument")
    with pytest.raises(ApiError) as info:
        decode_policy("not base64!")
    assert info.value.code == "InvalidPolicyDocument"
    doc = {"expiration": FUTURE, "conditions": []}
    assert decode_policy(base64.b64encode(orjson.dumps(doc)).decode()) == doc

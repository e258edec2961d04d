"""IAM end to end with boto3 and plain HTTP: policies enforced on every request, keys managed
through the log, refusals audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.stack import Stack

READ_PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/public/*"}
    ],
}


def client(stack: Stack, service: str, key: dict[str, str]) -> Any:
    return stack.boto3(
        service,
        credentials=(key["AccessKeyId"], key["SecretAccessKey"]),
        retries={"max_attempts": 1},
    )


def code(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    iam, s3 = stack.boto3("iam"), stack.boto3()
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="other")
    s3.put_object(Bucket="photos", Key="public/cat.jpg", Body=b"meow")
    s3.put_object(Bucket="photos", Key="private/diary.txt", Body=b"secret")
    s3.put_object(Bucket="other", Key="public/dog.jpg", Body=b"woof")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    iam.put_user_policy(
        UserName="alice", PolicyName="read-public", PolicyDocument=json.dumps(READ_PUBLIC)
    )
    return {"iam": iam, "s3": s3, "alice": key}


def test_user_limited_to_get_on_a_prefix_gets_access_denied_elsewhere(
    stack: Stack, world: dict[str, Any]
) -> None:
    alice = client(stack, "s3", world["alice"])
    assert alice.get_object(Bucket="photos", Key="public/cat.jpg")["Body"].read() == b"meow"
    assert (
        code(lambda: alice.put_object(Bucket="photos", Key="public/new.jpg", Body=b"x"))
        == "AccessDenied"
    )
    assert (
        code(lambda: alice.get_object(Bucket="photos", Key="private/diary.txt")) == "AccessDenied"
    )
    assert code(lambda: alice.get_object(Bucket="other", Key="public/dog.jpg")) == "AccessDenied"
    assert code(lambda: alice.list_objects_v2(Bucket="photos")) == "AccessDenied"
    assert (
        code(lambda: alice.delete_object(Bucket="photos", Key="public/cat.jpg")) == "AccessDenied"
    )
    # nothing the denied calls tried happened
    keys = [o["Key"] for o in world["s3"].list_objects_v2(Bucket="photos")["Contents"]]
    assert keys == ["private/diary.txt", "public/cat.jpg"]


def test_sts_and_native_api_know_the_user(stack: Stack, world: dict[str, Any]) -> None:
    sts = client(stack, "sts", world["alice"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/alice"
    import base64

    basic = base64.b64encode(
        f"{world['alice']['AccessKeyId']}:{world['alice']['SecretAccessKey']}".encode()
    ).decode()
    req = urllib.request.Request(
        f"{stack.url}/buckets/photos/objects/public/cat.jpg",
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(req) as r:
        assert r.read() == b"meow"
    req = urllib.request.Request(
        f"{stack.url}/buckets/photos/objects/private/diary.txt",
        headers={"Authorization": f"Basic {basic}"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 403 and json.loads(info.value.read())["code"] == "AccessDenied"


def test_group_and_managed_policies_grant_and_an_explicit_deny_wins(
    stack: Stack, world: dict[str, Any]
) -> None:
    iam = world["iam"]
    iam.create_user(UserName="bob")
    bob_key = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = client(stack, "s3", bob_key)
    assert code(lambda: bob.put_object(Bucket="other", Key="a", Body=b"1")) == "AccessDenied"
    iam.create_group(GroupName="writers")
    iam.put_group_policy(
        GroupName="writers",
        PolicyName="w",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:PutObject", "s3:GetObject"],
                        "Resource": "arn:aws:s3:::other/*",
                    }
                ],
            }
        ),
    )
    iam.add_user_to_group(GroupName="writers", UserName="bob")
    bob.put_object(Bucket="other", Key="a", Body=b"1")
    arn = iam.create_policy(
        PolicyName="no-secrets",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::other/secret*"}
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="bob", PolicyArn=arn)
    assert [
        p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="bob")["AttachedPolicies"]
    ] == [arn]
    assert (
        code(lambda: bob.put_object(Bucket="other", Key="secret.txt", Body=b"x")) == "AccessDenied"
    )
    bob.put_object(Bucket="other", Key="b", Body=b"2")


def test_anonymous_get_works_only_where_a_bucket_policy_allows(
    stack: Stack, world: dict[str, Any]
) -> None:
    def anon(key: str) -> int:
        try:
            with urllib.request.urlopen(f"{stack.s3_url}/photos/{key}") as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    assert anon("public/cat.jpg") == 403
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::photos/public/*",
            }
        ],
    }
    world["s3"].put_bucket_policy(Bucket="photos", Policy=json.dumps(policy))
    assert json.loads(world["s3"].get_bucket_policy(Bucket="photos")["Policy"]) == policy
    assert anon("public/cat.jpg") == 200
    assert anon("private/diary.txt") == 403
    world["s3"].delete_bucket_policy(Bucket="photos")
    assert anon("public/cat.jpg") == 403


def test_a_disabled_access_key_stops_working_at_once(stack: Stack, world: dict[str, Any]) -> None:
    iam = world["iam"]
    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    iam.put_user_policy(UserName="carol", PolicyName="r", PolicyDocument=json.dumps(READ_PUBLIC))
    carol = client(stack, "s3", key)
    assert carol.get_object(Bucket="photos", Key="public/cat.jpg")["Body"].read() == b"meow"
    iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert (
        code(lambda: carol.get_object(Bucket="photos", Key="public/cat.jpg"))
        == "InvalidAccessKeyId"
    )
    iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert carol.get_object(Bucket="photos", Key="public/cat.jpg")["Body"].read() == b"meow"
    iam.delete_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"])
    assert (
        code(lambda: carol.get_object(Bucket="photos", Key="public/cat.jpg"))
        == "InvalidAccessKeyId"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "MalformedPolicyDocument"),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:FlyToTheMoon", "Resource": "*"}
                    ],
                }
            ),
            "MalformedPolicyDocument",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}],
                }
            ),
            "MalformedPolicyDocument",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": [f"arn:aws:s3:::photos/{'x' * 40}{i}" for i in range(60)],
                        }
                    ],
                }
            ),
            "LimitExceeded",
        ),
    ],
)
def test_bad_policies_are_refused_and_change_nothing(
    stack: Stack, world: dict[str, Any], document: str, expected: str
) -> None:
    iam = world["iam"]
    assert (
        code(
            lambda: iam.put_user_policy(
                UserName="alice", PolicyName="read-public", PolicyDocument=document
            )
        )
        == expected
    )
    alice = client(stack, "s3", world["alice"])  # the old policy is still the one in force
    assert alice.get_object(Bucket="photos", Key="public/cat.jpg")["Body"].read() == b"meow"


def test_iam_errors_use_aws_codes(world: dict[str, Any]) -> None:
    iam = world["iam"]
    assert code(lambda: iam.create_user(UserName="alice")) == "EntityAlreadyExists"
    assert code(lambda: iam.get_user(UserName=f"nobody-{uuid.uuid4().hex[:6]}")) == "NoSuchEntity"
    assert code(lambda: iam.delete_user(UserName="alice")) == "DeleteConflict"
    assert code(lambda: iam.create_user(UserName="bad name!")) == "ValidationError"


def mycloud(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYCLOUD_DATA_DIR": str(stack.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "mycloud.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_creates_users_and_keys_that_work(stack: Stack, world: dict[str, Any]) -> None:
    assert mycloud(stack, "iam", "create-user", "dave").returncode == 0
    out = mycloud(stack, "iam", "create-access-key", "dave")
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)
    assert (
        mycloud(stack, "iam", "put-user-policy", "dave", "r", json.dumps(READ_PUBLIC)).returncode
        == 0
    )
    dave = client(stack, "s3", key)
    assert dave.get_object(Bucket="photos", Key="public/cat.jpg")["Body"].read() == b"meow"
    listed = mycloud(stack, "iam", "list-users").stdout
    assert "dave" in listed and "alice" in listed
    bad = mycloud(stack, "iam", "put-user-policy", "dave", "x", "{nope")
    assert bad.returncode != 0 and "MalformedPolicyDocument" in bad.stderr
    missing = mycloud(stack, "iam", "create-access-key", "nobody")
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr


def test_audit_answers_who_did_what_including_refusals(stack: Stack, world: dict[str, Any]) -> None:
    alice = client(stack, "s3", world["alice"])
    code(lambda: alice.put_object(Bucket="photos", Key="public/sneaky.jpg", Body=b"x"))
    import time

    target = "arn:aws:s3:::photos/public/sneaky.jpg"
    for _ in range(50):  # the denial is recorded in the background (earlier tests' may be there)
        out = mycloud(stack, "audit", "--actor", "alice", "--json")
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        if any(r["type"] == "iam.RequestDenied" and r["target"] == target for r in rows):
            break
        time.sleep(0.2)
    denied = [r for r in rows if r["type"] == "iam.RequestDenied" and r["target"] == target]
    assert denied and denied[-1]["detail"] == "s3:PutObject"
    out = mycloud(stack, "audit", "--bucket", "photos", "--json")
    types = [json.loads(line)["type"] for line in out.stdout.splitlines()]
    assert "s3.BucketCreated" in types and "s3.ObjectPut" in types
    assert all(
        json.loads(line)["actor"] in ("root", "alice", "anonymous")
        for line in out.stdout.splitlines()
    )
    future = mycloud(stack, "audit", "--since", "2999-01-01T00:00:00Z")
    assert future.returncode == 0 and future.stdout == ""
    bad = mycloud(stack, "audit", "--since", "yesterday")
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr

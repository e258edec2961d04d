"""IAM policy language: parsing/validation, evaluation, and the S3 operation table.

Evaluation cases reproduce examples from AWS's documentation; each names its source:
"IAM UG" is the IAM User Guide, "S3 UG" the Amazon S3 User Guide.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam.errors import LIMITS, LimitExceeded, MalformedPolicyDocument, SizeLimit
from iam.evaluate import Decision, Outcome, Request, evaluate
from iam.policy import Policy, parse_policy
from iam.s3 import S3_OPERATIONS, bucket_arn, object_arn, s3_action_for

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
V = "2012-10-17"


def doc(*statements: dict[str, Any], version: str | None = V) -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body["Version"] = version
    return json.dumps(body)


def identity(*statements: dict[str, Any], version: str | None = V) -> Policy:
    return parse_policy(doc(*statements, version=version), kind="identity")


def resource(*statements: dict[str, Any]) -> Policy:
    return parse_policy(doc(*statements), kind="resource")


def req(
    action: str,
    res: str,
    principal: str = ALICE,
    anonymous: bool = False,
    **context: str | list[str],
) -> Request:
    ctx = {k.replace("__", ":").replace("_", "-"): v for k, v in context.items()}
    return Request(principal, ACCOUNT, action, res, ctx, anonymous)


def decide(request: Request, ids: list[Policy], res: list[Policy] | None = None) -> Outcome:
    return evaluate(request, ids, res or []).outcome


ALLOW, DENY, IMPLICIT = Outcome.ALLOW, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY

# ---------------------------------------------------------------- documented examples

# IAM UG, "Amazon S3: Allows read and write access to objects in an S3 Bucket".
READ_WRITE = identity(
    {"Sid": "ListObjectsInBucket", "Effect": "Allow", "Action": ["s3:ListBucket"],
     "Resource": ["arn:aws:s3:::bucket-name"]},
    {"Sid": "AllObjectActions", "Effect": "Allow", "Action": "s3:*Object",
     "Resource": ["arn:aws:s3:::bucket-name/*"]},
)  # fmt: skip

# IAM UG, "AWS: Denies access to AWS based on the source IP".
DENY_OUTSIDE_IP = identity(
    {"Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}},
)  # fmt: skip
ALLOW_ALL = identity({"Effect": "Allow", "Action": "*", "Resource": "*"})

# IAM UG, "IAM policy elements: Variables and tags", Resource element: the home-directory policy.
HOME = identity(
    {"Action": ["s3:ListBucket"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket"],
     "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}},
    {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
     "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]},
)  # fmt: skip

# S3 UG, bucket policy examples, "Granting read-only permission to a public anonymous user"
# (scoped to a prefix).
PUBLIC_READ = resource(
    {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
     "Action": ["s3:GetObject", "s3:GetObjectVersion"],
     "Resource": ["arn:aws:s3:::photos/public/*"]},
)  # fmt: skip

# IAM UG, "IAM policy elements: Variables and tags", Introduction: s3:prefix on ListBucket.
MARKETING = identity(
    {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::mybucket"],
     "Condition": {"StringLike": {"s3:prefix": ["marketing/*"]}}},
)  # fmt: skip

# IAM UG, Condition operators, Numeric: "list up to 10 objects in example_bucket at a time".
MAX_KEYS = identity(
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
     "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}},
)  # fmt: skip

# IAM UG, "AWS: Allows access based on date and time" (DateGreaterThan / DateLessThan).
WINDOW = identity(
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                   "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}},
)  # fmt: skip

# IAM UG, Condition operators, Boolean: "BooleanExample" denies S3 unless over SSL.
NO_TLS = identity(
    {"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
     "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
)  # fmt: skip

# IAM UG, Condition operators, Null: "the user must not be using temporary credentials".
NO_TEMP = identity(
    {"Action": "s3:*", "Effect": "Allow", "Resource": "*",
     "Condition": {"Null": {"aws:TokenIssueTime": "true"}}},
)  # fmt: skip

# IAM UG, "Multivalued context keys examples": DenyRestrictedTags (ForAllValues:StringNotLike).
DENY_TAGS = identity(
    {"Sid": "DenyRestrictedTags", "Effect": "Deny", "Action": ["iam:Tag*", "iam:UnTag*"],
     "Resource": ["*"], "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}},
)  # fmt: skip
ALLOW_TAG_USER = identity({"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*"})

# IAM UG, "Policy evaluation for requests within a single account": carlossalazar's user policy
# allows listing/reading; the bucket policy alone grants him PutObject.
CARLOS = f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"
CARLOS_USER = identity(
    {"Sid": "AllowS3ListRead", "Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListAllMyBuckets"],
     "Resource": "arn:aws:s3:::*"},
)  # fmt: skip
CARLOS_BUCKET = resource(
    {"Sid": "AllowCarlosPut", "Effect": "Allow", "Principal": {"AWS": CARLOS},
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::carlossalazar-logs/*"},
)  # fmt: skip

LOGS = "arn:aws:s3:::carlossalazar-logs/app.log"

EXAMPLES = [
    ("read/write objects: GetObject", req("s3:GetObject", "arn:aws:s3:::bucket-name/a.txt"),
     [READ_WRITE], [], ALLOW),
    ("read/write objects: action names match case-insensitively",
     req("S3:getobject", "arn:aws:s3:::bucket-name/a.txt"), [READ_WRITE], [], ALLOW),
    ("read/write objects: ARNs match case-sensitively",
     req("s3:GetObject", "arn:aws:s3:::Bucket-Name/a.txt"), [READ_WRITE], [], IMPLICIT),
    ("read/write objects: s3:*Object does not cover GetObjectTagging",
     req("s3:GetObjectTagging", "arn:aws:s3:::bucket-name/a.txt"), [READ_WRITE], [], IMPLICIT),
    ("read/write objects: ListBucket on the bucket",
     req("s3:ListBucket", "arn:aws:s3:::bucket-name"), [READ_WRITE], [], ALLOW),
    ("source IP deny: inside the range",
     req("s3:GetObject", "arn:aws:s3:::b/k", aws__SourceIp="203.0.113.7"),
     [ALLOW_ALL, DENY_OUTSIDE_IP], [], ALLOW),
    ("source IP deny: outside the range",
     req("s3:GetObject", "arn:aws:s3:::b/k", aws__SourceIp="198.51.100.1"),
     [ALLOW_ALL, DENY_OUTSIDE_IP], [], DENY),
    ("source IP deny: IPv6 caller is outside v4 ranges",
     req("s3:GetObject", "arn:aws:s3:::b/k", aws__SourceIp="2001:db8::1"),
     [ALLOW_ALL, DENY_OUTSIDE_IP], [], DENY),
    ("source IP deny: key absent -> NotIpAddress is true -> denied",
     req("s3:GetObject", "arn:aws:s3:::b/k"), [ALLOW_ALL, DENY_OUTSIDE_IP], [], DENY),
    ("home folder: own object", req("s3:PutObject", "arn:aws:s3:::mybucket/alice/notes.txt"),
     [HOME], [], ALLOW),
    ("home folder: someone else's", req("s3:GetObject", "arn:aws:s3:::mybucket/bob/notes.txt"),
     [HOME], [], IMPLICIT),
    ("home folder: ListBucket with own prefix",
     req("s3:ListBucket", "arn:aws:s3:::mybucket", s3__prefix="alice/photos/"), [HOME], [], ALLOW),
    ("home folder: ListBucket with another prefix",
     req("s3:ListBucket", "arn:aws:s3:::mybucket", s3__prefix="bob/"), [HOME], [], IMPLICIT),
    ("home folder: a role session has no aws:username -> no match",
     req("s3:GetObject", "arn:aws:s3:::mybucket/alice/x",
         principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/R/alice"), [HOME], [], IMPLICIT),
    ("anonymous read: object under the prefix",
     req("s3:GetObject", "arn:aws:s3:::photos/public/cat.jpg", principal="", anonymous=True),
     [], [PUBLIC_READ], ALLOW),
    ("anonymous read: object outside the prefix",
     req("s3:GetObject", "arn:aws:s3:::photos/private/cat.jpg", principal="", anonymous=True),
     [], [PUBLIC_READ], IMPLICIT),
    ("anonymous read: writes are not granted",
     req("s3:PutObject", "arn:aws:s3:::photos/public/cat.jpg", principal="", anonymous=True),
     [], [PUBLIC_READ], IMPLICIT),
    ("anonymous: identity-policy allows never apply",
     req("s3:GetObject", "arn:aws:s3:::b/k", principal="", anonymous=True), [ALLOW_ALL], [],
     IMPLICIT),
    ("s3:prefix: marketing/ listing",
     req("s3:ListBucket", "arn:aws:s3:::mybucket", s3__prefix="marketing/2024/"), [MARKETING],
     [], ALLOW),
    ("s3:prefix: other listing",
     req("s3:ListBucket", "arn:aws:s3:::mybucket", s3__prefix="finance/"), [MARKETING], [],
     IMPLICIT),
    ("s3:prefix: absent key -> StringLike is false",
     req("s3:ListBucket", "arn:aws:s3:::mybucket"), [MARKETING], [], IMPLICIT),
    ("s3:max-keys <= 10", req("s3:ListBucket", "arn:aws:s3:::example_bucket", s3__max_keys="10"),
     [MAX_KEYS], [], ALLOW),
    ("s3:max-keys > 10", req("s3:ListBucket", "arn:aws:s3:::example_bucket", s3__max_keys="1000"),
     [MAX_KEYS], [], IMPLICIT),
    ("date window: inside", req("s3:GetObject", "arn:aws:s3:::b/k",
                                aws__CurrentTime="2020-05-01T12:00:00Z"), [WINDOW], [], ALLOW),
    ("date window: expired", req("s3:GetObject", "arn:aws:s3:::b/k",
                                 aws__CurrentTime="2020-07-01T00:00:00Z"), [WINDOW], [], IMPLICIT),
    ("date window: time zone offsets convert to UTC",
     req("s3:GetObject", "arn:aws:s3:::b/k", aws__CurrentTime="2020-07-01T01:00:00+02:00"),
     [WINDOW], [], ALLOW),
    ("date window: aws:EpochTime is not aws:CurrentTime",
     req("s3:GetObject", "arn:aws:s3:::b/k", aws__EpochTime="1588334400"), [WINDOW], [],
     IMPLICIT),
    ("SecureTransport false -> deny",
     req("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", aws__SecureTransport="false"),
     [ALLOW_ALL, NO_TLS], [], DENY),
    ("SecureTransport true -> allowed",
     req("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", aws__SecureTransport="true"),
     [ALLOW_ALL, NO_TLS], [], ALLOW),
    ("Null: long-term credentials", req("s3:GetObject", "arn:aws:s3:::b/k"), [NO_TEMP], [],
     ALLOW),
    ("Null: temporary credentials", req("s3:GetObject", "arn:aws:s3:::b/k",
                                        aws__TokenIssueTime="2024-01-01T00:00:00Z"), [NO_TEMP],
     [], IMPLICIT),
    ("ForAllValues:StringNotLike, key1:legal -> no match",
     req("iam:TagUser", "*", aws__TagKeys=["key1:legal"]), [ALLOW_TAG_USER, DENY_TAGS], [],
     ALLOW),
    ("ForAllValues:StringNotLike, key1:hr + key1:personnel -> no match",
     req("iam:TagUser", "*", aws__TagKeys=["key1:hr", "key1:personnel"]),
     [ALLOW_TAG_USER, DENY_TAGS], [], ALLOW),
    ("ForAllValues:StringNotLike, key2:audit -> match (deny)",
     req("iam:TagUser", "*", aws__TagKeys=["key2:audit"]), [ALLOW_TAG_USER, DENY_TAGS], [], DENY),
    ("ForAllValues:StringNotLike, no aws:TagKeys -> match (deny)",
     req("iam:TagUser", "*"), [ALLOW_TAG_USER, DENY_TAGS], [], DENY),
    ("same account: the bucket policy alone grants PutObject",
     req("s3:PutObject", LOGS, principal=CARLOS), [CARLOS_USER], [CARLOS_BUCKET], ALLOW),
    ("same account: the user policy alone grants GetObject",
     req("s3:GetObject", LOGS, principal=CARLOS), [CARLOS_USER], [CARLOS_BUCKET], ALLOW),
    ("same account: neither grants DeleteObject",
     req("s3:DeleteObject", LOGS, principal=CARLOS), [CARLOS_USER], [CARLOS_BUCKET], IMPLICIT),
    ("same account: a grant to carlos is not a grant to bob",
     req("s3:PutObject", LOGS, principal=BOB), [], [CARLOS_BUCKET], IMPLICIT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "ids", "res", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in EXAMPLES],
)
def test_documented_examples(
    request_: Request, ids: list[Policy], res: list[Policy], expected: Outcome
) -> None:
    assert decide(request_, ids, res) is expected


def test_decision_explains_with_statement_ids() -> None:
    d = evaluate(
        req("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", aws__SecureTransport="false"),
        [ALLOW_ALL, NO_TLS],
        [],
    )
    assert d.outcome is DENY and not d.allowed and d.sids == ("BooleanExample",)
    assert d.matches[0].source == "identity" and d.matches[0].policy == "identity#1"
    d = evaluate(req("s3:PutObject", LOGS, principal=CARLOS), [CARLOS_USER], [CARLOS_BUCKET])
    assert d.allowed and d.sids == ("AllowCarlosPut",) and d.matches[0].source == "resource"


# ---------------------------------------------------------------- conditions


def cond_outcome(block: dict[str, Any], **context: str | list[str]) -> Outcome:
    policy = identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                       "Condition": block})  # fmt: skip
    return decide(req("s3:GetObject", "arn:aws:s3:::b/k", **context), [policy])


CONDITIONS = [
    # (operator block, context, allowed?) -- "If the key ... is not present in the request
    # context, the values do not match and the condition is false. If the policy condition
    # requires that the key is not matched, such as StringNotLike ..., the condition is true."
    ({"StringEquals": {"aws:username": "alice"}}, {}, True),
    ({"StringEquals": {"aws:username": "Alice"}}, {}, False),
    ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, True),
    ({"StringNotEquals": {"aws:username": ["bob", "carol"]}}, {}, True),
    ({"StringNotEquals": {"aws:username": ["bob", "alice"]}}, {}, False),  # NOR of values
    ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, False),
    ({"StringEquals": {"s3:x-amz-acl": "private"}}, {}, False),  # missing key -> false
    ({"StringNotEquals": {"s3:x-amz-acl": "public-read"}}, {}, True),  # missing, negated -> true
    ({"StringNotLike": {"s3:prefix": "secret/*"}}, {}, True),
    ({"StringLike": {"s3:prefix": "home/?/*"}}, {"s3__prefix": "home/a/b"}, True),
    ({"StringLike": {"s3:prefix": "home/?/*"}}, {"s3__prefix": "home/ab/b"}, False),
    ({"StringEquals": {"s3:prefix": "a*"}}, {"s3__prefix": "abc"}, False),  # no wildcards
    ({"StringEquals": {"s3:prefix": "a${*}"}}, {"s3__prefix": "a*"}, True),  # ${*} is a "*"
    ({"StringLike": {"s3:prefix": "${aws:userid, 'anonymous'}/*"}}, {"s3__prefix": "anonymous/x"},
     True),
    ({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}, {}, True),
    ({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}, {"s3__x_amz_acl": "public-read"},
     False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3__max_keys": "9.5"}, True),
    ({"NumericGreaterThanEquals": {"s3:max-keys": 10}}, {"s3__max_keys": "10"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3__max_keys": "ten"}, False),
    ({"NumericNotEquals": {"s3:max-keys": ["1", "2"]}}, {"s3__max_keys": "3"}, True),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {}, False),
    ({"DateEquals": {"aws:CurrentTime": "2024-01-01"}}, {"aws__CurrentTime": "2024-01-01T00:00Z"},
     True),
    ({"DateNotEquals": {"aws:CurrentTime": "2024-01-01"}}, {"aws__CurrentTime": "2024-01-02"},
     True),
    ({"DateLessThanEquals": {"aws:EpochTime": "1700000000"}}, {"aws__EpochTime": "1700000000"},
     True),
    ({"DateGreaterThanEquals": {"aws:CurrentTime": "1700000000"}},
     {"aws__CurrentTime": "2023-11-14T22:13:21Z"}, True),  # epoch policy value vs ISO request
    ({"DateGreaterThan": {"aws:CurrentTime": "2023-11-14T22:13:21.5Z"}},
     {"aws__CurrentTime": "2023-11-14T22:13:21Z"}, False),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws__SecureTransport": "TRUE"}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
    ({"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
     {"aws__SourceIp": "2001:db8:1234:5678::42"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.9"}}, {"aws__SourceIp": "203.0.113.9"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws__SourceIp": "not-an-ip"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws__SourceIp": "192.0.2.1"}, True),
    ({"ArnEquals": {"aws:PrincipalArn": ALICE}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}, {}, True),
    ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, {}, True),
    ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/a*"}}, {}, True),
    ({"Null": {"s3:prefix": "false"}}, {"s3__prefix": ""}, True),
    ({"Null": {"s3:prefix": "false"}}, {}, False),
    ({"BinaryEquals": {"s3:blob": "QmluYXJ5"}}, {"s3__blob": "QmluYXJ5"}, True),
    # Conditions with multiple keys or values: keys AND, operators AND, values OR.
    ({"StringEquals": {"aws:username": "alice", "s3:prefix": "x"}}, {"s3__prefix": "x"}, True),
    ({"StringEquals": {"aws:username": "alice", "s3:prefix": "x"}}, {"s3__prefix": "y"}, False),
    ({"StringEquals": {"aws:username": ["bob", "alice"]}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws__SecureTransport": "true"}, True),
    ({"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws__SecureTransport": "false"}, False),
    # Set operators.
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws__TagKeys": ["c", "b"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws__TagKeys": ["c"]}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, False),
    ({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["a"]}}, {}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws__TagKeys": ["a", "b"]},
     True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws__TagKeys": ["a", "c"]},
     False),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws__TagKeys": []}, True),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws__TagKeys": ["a", "z"]}, True),
    # Condition key names are case-insensitive; values are not.
    ({"StringEquals": {"AWS:USERNAME": "alice"}}, {}, True),
    ({"StringEquals": {"s3:prefix": "x"}}, {"S3__Prefix": "x"}, True),
]  # fmt: skip


@pytest.mark.parametrize(("block", "context", "allowed"), CONDITIONS, ids=lambda v: str(v)[:60])
def test_condition_operators(block: dict[str, Any], context: dict[str, Any], allowed: bool) -> None:
    assert cond_outcome(block, **context) is (ALLOW if allowed else IMPLICIT)


def test_policy_variables_need_version_2012() -> None:
    # IAM UG, Variables: "If you don't include the Version element ... variables like
    # ${aws:username} are treated as literal strings in the policy."
    st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}"}
    literal = identity(st, version="2008-10-17")
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/alice"), [literal]) is IMPLICIT
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/${aws:username}"), [literal]) is ALLOW
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/alice"), [identity(st)]) is ALLOW


def test_unresolvable_variable_makes_the_statement_not_apply() -> None:
    # IAM UG, Variables: "not present ... any attempt to match it fails and causes the statement
    # to be invalid" -- also for a Deny with NotResource.
    deny = identity({"Effect": "Deny", "Action": "s3:*",
                     "NotResource": "arn:aws:s3:::b/${aws:PrincipalTag/team}/*"})  # fmt: skip
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s"
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/x", principal=session), [ALLOW_ALL, deny]) \
        is ALLOW  # fmt: skip
    tag = {"aws:PrincipalTag/team": "red"}
    tagged = Request(ALICE, ACCOUNT, "s3:GetObject", "arn:aws:s3:::b/x", tag)
    assert decide(tagged, [ALLOW_ALL, deny]) is DENY


def test_resource_wildcards_stay_in_their_arn_segment() -> None:
    # IAM UG, Resource: wildcards are used within segments; a "*" ending a segment can expand
    # across colons. IAM UG, Condition operators, ARN: the StringLike vs ArnLike example.
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    assert cond_outcome({"StringLike": {"aws:SourceArn": pattern}}, aws__SourceArn=value) is ALLOW
    assert cond_outcome({"ArnLike": {"aws:SourceArn": pattern}}, aws__SourceArn=value) is IMPLICIT
    st = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/a?ice"}
    assert decide(req("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/alice"), [identity(st)]) is ALLOW
    st["Resource"] = "arn:aws:iam::1?1122223333:user/*"
    assert decide(req("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/x/y"), [identity(st)]) is ALLOW


def test_not_action_and_not_resource() -> None:
    # IAM UG, NotAction: "Allows all actions except IAM" style statement.
    policy = identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/k"), [policy]) is ALLOW
    assert decide(req("iam:CreateUser", "*"), [policy]) is IMPLICIT
    deny = identity({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::ok/*"})
    assert decide(req("s3:GetObject", "arn:aws:s3:::ok/k"), [ALLOW_ALL, deny]) is ALLOW
    assert decide(req("s3:GetObject", "arn:aws:s3:::no/k"), [ALLOW_ALL, deny]) is DENY


# ---------------------------------------------------------------- principals


def test_principal_forms_in_resource_policies() -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    by_arn = resource({**get, "Principal": {"AWS": [ALICE, "999999999999"]}})
    by_star = resource({**get, "Principal": {"AWS": "*"}})
    account = resource({**get, "Principal": {"AWS": ACCOUNT}})
    root_arn = resource({**get, "Principal": {"AWS": ROOT}})
    role = resource({**get, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/R"}})
    r = "arn:aws:s3:::b/k"
    assert decide(req("s3:GetObject", r), [], [by_arn]) is ALLOW
    assert decide(req("s3:GetObject", r, principal=BOB), [], [by_arn]) is IMPLICIT
    assert decide(req("s3:GetObject", r, principal="", anonymous=True), [], [by_star]) is ALLOW
    assert decide(req("s3:GetObject", r, principal="", anonymous=True), [], [by_arn]) is IMPLICIT
    # Naming the account delegates to it: an IAM user still needs an identity-policy allow.
    for delegating in (account, root_arn):
        assert decide(req("s3:GetObject", r), [], [delegating]) is IMPLICIT
        get_ids = identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
        assert decide(req("s3:GetObject", r), [get_ids], [delegating]) is ALLOW
        assert decide(req("s3:GetObject", r, principal=ROOT), [], [delegating]) is ALLOW
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/R/session-1"
    assert decide(req("s3:GetObject", r, principal=session), [], [role]) is ALLOW


def test_deny_naming_the_account_applies_to_its_users() -> None:
    deny = resource({"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "s3:*",
                     "Resource": "arn:aws:s3:::b/*"})  # fmt: skip
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/k"), [ALLOW_ALL], [deny]) is DENY


def test_not_principal_deny_spares_the_named() -> None:
    # IAM UG, NotPrincipal: Deny for everyone except the listed principals.
    deny = resource({"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE]}, "Action": "s3:*",
                     "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})  # fmt: skip
    r = "arn:aws:s3:::b/k"
    assert decide(req("s3:GetObject", r), [ALLOW_ALL], [deny]) is ALLOW
    assert decide(req("s3:GetObject", r, principal=BOB), [ALLOW_ALL], [deny]) is DENY
    assert decide(req("s3:GetObject", r, principal="", anonymous=True), [], [deny]) is DENY


def test_root_user_has_full_access_unless_explicitly_denied() -> None:
    # IAM UG, "all requests are implicitly denied with the exception of the AWS account root
    # user, which has full access"; an explicit deny in a bucket policy still applies.
    d = evaluate(req("s3:DeleteBucket", "arn:aws:s3:::b", principal=ROOT), [], [])
    assert d.allowed and "root" in d.reason
    deny = resource({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                     "Resource": "arn:aws:s3:::b"})  # fmt: skip
    assert decide(req("s3:DeleteBucket", "arn:aws:s3:::b", principal=ROOT), [], [deny]) is DENY


def test_request_context_derives_principal_keys() -> None:
    policy = identity(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT,
                                        "aws:PrincipalType": "User"}}},
    )  # fmt: skip
    user = f"arn:aws:iam::{ACCOUNT}:user/division/team/alice"
    assert decide(req("s3:GetObject", "arn:aws:s3:::b/k", principal=user), [policy]) is ALLOW


# ---------------------------------------------------------------- malformed documents

S = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
P = {**S, "Principal": "*"}

MALFORMED_IDENTITY = [
    ("{", "Syntax errors in policy."),
    ("[]", "Syntax errors in policy."),
    ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
     "Syntax errors in policy."),
    (doc(S, version="2013-01-01"), "Syntax errors in policy."),
    (json.dumps({"Version": V, "Statement": [S], "Extra": 1}), "Syntax errors in policy."),
    (json.dumps({"Version": V}), "Syntax errors in policy."),
    (json.dumps({"Version": V, "Statement": []}), "Syntax errors in policy."),
    (doc({**S, "Actions": "s3:GetObject"}), "Syntax errors in policy."),
    (doc({**S, "NotAction": "s3:PutObject"}), "Syntax errors in policy."),
    (doc({**S, "Effect": "Permit"}), "Syntax errors in policy."),
    (doc({**S, "Action": 5}), "Syntax errors in policy."),
    (doc({**S, "Condition": {"StringEqualz": {"aws:username": "a"}}}),
     "Syntax errors in policy."),
    (doc({**S, "Principal": "*"}), "Policy document should not specify a principal."),
    (doc({**S, "Effect": "allow"}), "The policy failed legacy parsing"),
    (doc({**S, "Condition": {"DateLessThan": {"aws:CurrentTime": "2020-13-45T00:00:00Z"}}}),
     "The policy failed legacy parsing"),
    (doc({**S, "Sid": "a"}, {**S, "Sid": "a"}),
     "Statement IDs (SID) in a single policy must be unique."),
    (doc({**S, "Sid": "not ok"}), "Statement IDs (SID) must be alpha-numeric. Check that your "
     "input satisfies the regular expression [0-9A-Za-z]*"),
    (doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
    (doc({**S, "Action": []}), "Policy statement must contain actions."),
    (doc({"Effect": "Allow", "Action": "s3:GetObject"}),
     "Policy statement must contain resources."),
    (doc(S, {**S, "Action": "GetObject"}),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (doc({**S, "Action": "s3:Get:Object"}), "Actions/Condition can contain only one colon."),
    (doc({**S, "Action": "s*:GetObject"}), "Action vendors must not contain wildcards."),
    (doc({**S, "Action": "s_3:GetObject"}), "Vendor s_3 is not valid"),
    (doc({**S, "Action": "ec9:RunInstances"}),
     "Invalid service: The service ec9 does not exist."),
    (doc({**S, "Action": "s3:GetObjekt"}),
     "Invalid action: The action s3:GetObjekt does not exist."),
    (doc({**S, "Action": "s3:Fly*"}), "Invalid action: The action s3:Fly* does not exist."),
    (doc({**S, "Resource": "b/*"}), 'Resource b/* must be in ARN format or "*".'),
    (doc({**S, "Resource": "arn:aws:s3:us-east-1::b/*"}),
     "Resource arn:aws:s3:us-east-1::b/* can not contain region information."),
    (doc({**S, "Resource": "arn:nope:s3:::b"}),
     'Partition "nope" is not valid for resource "arn:nope:s3:::b".'),
    (doc({**S, "Resource": "arn:aws:s*:::b"}),
     "Resource vendor must be fully qualified and cannot contain regexes."),
    (doc({**S, "Action": "iam:GetUser", "Resource": f"arn:aws:iam::{ACCOUNT}:cat/x"}),
     'IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, '
     "instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, "
     "oidc-provider/, report/, access-report/."),
    (doc({**S, "Condition": {"IpAddress": {"aws:SourceIp": "300.1.2.3/8"}}}),
     "The policy failed legacy parsing"),
    (doc({**S, "Condition": {"StringEquals": {"username": "a"}}}),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED_IDENTITY, ids=lambda v: str(v)[:50])
def test_malformed_identity_policies(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as info:
        parse_policy(text, kind="identity")
    assert info.value.message == message
    assert info.value.code == "MalformedPolicyDocument" and info.value.detail


MALFORMED_BUCKET = [
    ("", "Policies must be valid JSON and the first byte must be '{'"),
    ("{nope", "This policy contains invalid Json"),
    (json.dumps({"Version": V}), "Missing required field Statement"),
    (json.dumps({"Version": V, "Statement": []}),
     "Could not parse the policy: Statement is empty!"),
    (doc({**P, "Color": "red"}), "Unknown field Color"),
    (doc(S), "Missing required field Principal"),
    (doc({k: v for k, v in P.items() if k != "Effect"}), "Missing required field Effect"),
    (doc({**P, "Effect": "Maybe"}), "Invalid effect: Maybe"),
    (doc({k: v for k, v in P.items() if k != "Resource"}), "Missing required field Resource"),
    (doc({k: v for k, v in P.items() if k != "Action"}), "Missing required field Action"),
    (doc({**P, "Principal": "alice"}), "Invalid principal in policy"),
    (doc({**P, "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}}),
     "Invalid principal in policy"),
    (doc({**P, "Principal": {"Robot": "x"}}), "Invalid principal in policy"),
    (doc({**P, "Action": "s3:Teleport"}), "Policy has invalid action"),
    (doc({**P, "Resource": "arn:aws:s3:::other/*"}), "Policy has invalid resource"),
    (doc({**P, "Resource": "arn:aws:s3:::b2/*"}), "Policy has invalid resource"),
    (doc({**P, "Resource": "b/*"}), "Policy has invalid resource"),
    (doc({**P, "Action": "s3:ListBucket"}),
     "Action does not apply to any resource(s) in statement"),
    (doc({**P, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}),
     "Action does not apply to any resource(s) in statement"),
    (doc({**P, "Condition": {"StringEqualz": {"aws:username": "a"}}}),
     "Invalid Condition type : StringEqualz"),
    (doc({**P, "Condition": {"IpAddress": {"aws:SourceIp": "nope"}}}), "Invalid policy syntax."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED_BUCKET, ids=lambda v: str(v)[:50])
def test_malformed_bucket_policies(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as info:
        parse_policy(text, kind="resource", bucket="b")
    assert info.value.message == message and info.value.code == "MalformedPolicy"


VALID = [
    # Every Principal form the grammar allows, wildcard resources, Statement as an object.
    ("resource", json.dumps({"Version": V, "Id": "x", "Statement": {**P, "Sid": "Public read"}})),
    ("resource", doc({**P, "Principal": {"AWS": "*"}})),
    ("resource", doc({**P, "Principal": {"AWS": [ALICE, ACCOUNT, ROOT, "AIDAJQABLZS4A3QDU576Q"]}})),
    ("resource", doc({**P, "Principal": {"Service": "logging.s3.amazonaws.com"}})),
    ("resource", doc({**S, "NotPrincipal": {"AWS": ALICE}, "Effect": "Deny"})),
    ("resource", doc({**P, "Action": ["s3:*"],
                      "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})),
    ("resource", doc({**P, "Action": "s3:List*", "Resource": "arn:aws:s3:::b*"})),
    ("resource", doc({**P, "Resource": "*"}, version=None)),
    ("resource", doc({**P, "Resource": "arn:aws:s3:::b/${aws:username}/*"})),
    ("identity", doc({**S, "Action": "*"}, version="2008-10-17")),
    ("identity", doc({**S, "Action": ["iam:*AccessKey*", "sts:GetCallerIdentity",
                                      "S3:getobject"]})),
    ("identity", doc({**S, "Resource": ["arn:aws:s3:::*", "*", f"arn:aws:iam::{ACCOUNT}:user/*"]})),
    ("identity", doc({**S, "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "a*"},
                                         "Null": {"aws:TokenIssueTime": True},
                                         "NumericLessThan": {"s3:max-keys": [1, "2.5"]}}})),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text"), VALID, ids=lambda v: str(v)[:60])
def test_valid_documents_parse(kind: Any, text: str) -> None:
    policy = parse_policy(text, kind=kind, bucket="b" if kind == "resource" else None)
    assert policy.statements and policy.kind == kind
    assert parse_policy(text.encode(), kind=kind).statements == policy.statements


def test_one_bad_statement_rejects_the_whole_document() -> None:
    text = doc(S, S, {**S, "Action": "s3:Nope"})
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(text, kind="identity")


# ---------------------------------------------------------------- size quotas


def sized(non_whitespace: int, padding: str = "") -> str:
    """A valid identity policy of exactly ``non_whitespace`` non-white-space characters."""
    base = json.dumps({"Version": V, "Id": "", "Statement": [S]}, separators=(",", ":"))
    filler = "x" * (non_whitespace - len(base))
    return base.replace('"Id":""', f'"Id":"{filler}"').replace(",", "," + padding)


@pytest.mark.parametrize(
    ("limit", "maximum", "message"),
    [
        ("user", 2048, "Maximum policy size of 2048 bytes exceeded for user"),
        ("group", 5120, "Maximum policy size of 5120 bytes exceeded for group"),
        ("role", 10240, "Maximum policy size of 10240 bytes exceeded for role"),
        ("managed", 6144, "Cannot exceed quota for PolicySize: 6144"),
        (None, 6144, "Cannot exceed quota for PolicySize: 6144"),
    ],
)
def test_identity_size_quotas(limit: Any, maximum: int, message: str) -> None:
    # White space doesn't count ("IAM does not count white space ...").
    assert parse_policy(sized(maximum, " \n\t" * 50), kind="identity", limit=limit).size == maximum
    with pytest.raises(LimitExceeded) as info:
        parse_policy(sized(maximum + 1), kind="identity", limit=limit)
    assert info.value.message == message and info.value.code == "LimitExceeded"


def test_bucket_policy_quota_is_20_kb() -> None:
    big = {**P, "Resource": ["arn:aws:s3:::b/" + "k" * 100 + str(i) for i in range(200)]}
    with pytest.raises(LimitExceeded) as info:
        parse_policy(doc(big), kind="resource")
    assert info.value.message == "Policy exceeds the maximum allowed document size."
    ok = {**big, "Resource": big["Resource"][:150]}
    assert LIMITS["bucket"].measure(doc(ok)) <= 20480
    assert len(parse_policy(doc(ok), kind="resource").statements[0].resources or ()) == 150


def test_custom_size_limit() -> None:
    with pytest.raises(LimitExceeded, match="tiny"):
        parse_policy(doc(S), kind="identity", limit=SizeLimit(10, "characters", "tiny"))


# ---------------------------------------------------------------- the S3 operation table


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (("ListBuckets",), [("s3:ListAllMyBuckets", "arn:aws:s3:::*")]),
        (("CreateBucket", "b"), [("s3:CreateBucket", "arn:aws:s3:::b")]),
        (("HeadBucket", "b"), [("s3:ListBucket", "arn:aws:s3:::b")]),
        (("ListObjectsV2", "b"), [("s3:ListBucket", "arn:aws:s3:::b")]),
        (("ListObjectVersions", "b"), [("s3:ListBucketVersions", "arn:aws:s3:::b")]),
        (("ListMultipartUploads", "b"), [("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")]),
        (("DeleteBucketCors", "b"), [("s3:PutBucketCORS", "arn:aws:s3:::b")]),
        (("PutObject", "b", "a/k"), [("s3:PutObject", "arn:aws:s3:::b/a/k")]),
        (("HeadObject", "b", "k"), [("s3:GetObject", "arn:aws:s3:::b/k")]),
        (("UploadPart", "b", "k"), [("s3:PutObject", "arn:aws:s3:::b/k")]),
        (("CompleteMultipartUpload", "b", "k"), [("s3:PutObject", "arn:aws:s3:::b/k")]),
        (("AbortMultipartUpload", "b", "k"), [("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]),
        (("ListParts", "b", "k"), [("s3:ListMultipartUploadParts", "arn:aws:s3:::b/k")]),
        (("PutObjectTagging", "b", "k"), [("s3:PutObjectTagging", "arn:aws:s3:::b/k")]),
    ],
)
def test_s3_operations_map_to_actions(call: tuple[str, ...], expected: list[Any]) -> None:
    assert list(s3_action_for(*call)) == expected


def test_s3_versioned_copy_and_batch_operations() -> None:
    assert s3_action_for("GetObject", "b", "k", version_id="v1") == (
        ("s3:GetObjectVersion", "arn:aws:s3:::b/k"),
    )
    deleted = s3_action_for("DeleteObject", "b", "k", version_id="v1")
    assert deleted[0][0] == "s3:DeleteObjectVersion"
    assert s3_action_for("GetObjectTagging", "b", "k", version_id="v")[0][0] == (
        "s3:GetObjectVersionTagging"
    )
    assert s3_action_for("DeleteObjects", "b", keys=["x", ("y", "v2"), ("z", None)]) == (
        ("s3:DeleteObject", "arn:aws:s3:::b/x"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/y"),
        ("s3:DeleteObject", "arn:aws:s3:::b/z"),
    )
    assert s3_action_for("CopyObject", "dst", "new", source=("src", "old", None)) == (
        ("s3:GetObject", "arn:aws:s3:::src/old"),
        ("s3:PutObject", "arn:aws:s3:::dst/new"),
    )
    assert s3_action_for("CopyObject", "d", "n", source=("s", "o", "v"))[0][0] == (
        "s3:GetObjectVersion"
    )
    with pytest.raises(ValueError):
        s3_action_for("Teleport", "b")
    with pytest.raises(ValueError):
        s3_action_for("CopyObject", "b", "k")
    assert bucket_arn("b") == "arn:aws:s3:::b" and object_arn("b", "k/ey") == "arn:aws:s3:::b/k/ey"


def test_every_s3_operation_names_a_catalogued_action() -> None:
    everything = identity({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    for perm in S3_OPERATIONS.values():
        for action in filter(None, (perm.action, perm.versioned)):
            parse_policy(doc({**S, "Action": action}), kind="identity")
            assert decide(req(action, "arn:aws:s3:::b/k"), [everything]) is ALLOW


# ---------------------------------------------------------------- speed


def test_a_typical_evaluation_is_fast() -> None:
    bucket = resource(
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::photos/public/*"},
        {"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )  # fmt: skip
    request = req("s3:GetObject", "arn:aws:s3:::mybucket/alice/a.txt", aws__SecureTransport="true",
                  aws__SourceIp="203.0.113.5")  # fmt: skip
    assert decide(request, [HOME, DENY_OUTSIDE_IP], [bucket]) is ALLOW
    n = 2000
    started = time.perf_counter()
    for _ in range(n):
        evaluate(request, [HOME, DENY_OUTSIDE_IP], [bucket])
    per_call = (time.perf_counter() - started) / n
    assert per_call < 500e-6  # typically ~15 µs; generous for slow CI machines


# ---------------------------------------------------------------- properties

USERS = ["alice", "bob"]
BUCKETS = ["photos", "logs"]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "iam:CreateUser"]
ACTION_PATTERNS = [*ACTIONS, "*", "s3:*", "s3:Get*", "s3:*Object", "iam:*User*", "s3:?etObject"]
RESOURCE_PATTERNS = [
    "*", "arn:aws:s3:::*", "arn:aws:s3:::photos", "arn:aws:s3:::photos/*", "arn:aws:s3:::logs/a*",
    "arn:aws:s3:::photos/${aws:username}/*", "arn:aws:s3:::?ogs/*", "arn:aws:s3:::logs/b/a",
]  # fmt: skip
CONDITION_BLOCKS: list[dict[str, Any]] = [
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
    {"StringLike": {"s3:prefix": ["", "a/*", "${aws:username}/*"]}},
    {"StringNotEqualsIfExists": {"s3:prefix": "b"}},
    {"DateLessThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["t1"]}},
    {"ForAllValues:StringNotLike": {"aws:TagKeys": "t*"}},
    {"Null": {"s3:prefix": "true"}},
]
PRINCIPALS: list[Any] = [
    "*", {"AWS": "*"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}, {"AWS": ACCOUNT},
    {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/bob", "999999999999"]},
]  # fmt: skip
KEYS = st.text(alphabet="ab/", min_size=1, max_size=6)


@st.composite
def statements(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "Action", "NotAction"])): draw(
            st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3)
        ),
        draw(st.sampled_from(["Resource", "Resource", "NotResource"])): draw(
            st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3)
        ),
    }
    blocks = draw(st.lists(st.sampled_from(CONDITION_BLOCKS), max_size=2))
    if blocks:
        out["Condition"] = {k: v for block in blocks for k, v in block.items()}
    if kind == "resource":
        out[draw(st.sampled_from(["Principal", "Principal", "NotPrincipal"]))] = draw(
            st.sampled_from(PRINCIPALS)
        )
    return out


def policy_docs(kind: str) -> st.SearchStrategy[list[list[dict[str, Any]]]]:
    return st.lists(st.lists(statements(kind), min_size=1, max_size=4), max_size=3)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    anonymous = draw(st.booleans())
    user = draw(st.sampled_from(USERS))
    bucket = draw(st.sampled_from(BUCKETS))
    key = draw(st.none() | KEYS)
    context: dict[str, str | list[str]] = {}
    if draw(st.booleans()):
        context["aws:SecureTransport"] = draw(st.sampled_from(["true", "false"]))
    if draw(st.booleans()):
        context["aws:SourceIp"] = draw(st.sampled_from(["203.0.113.9", "192.0.2.1", "2001:db8::1"]))
    if draw(st.booleans()):
        context["s3:prefix"] = draw(st.sampled_from(["", "a/", "alice/x", "b"]))
    if draw(st.booleans()):
        context["aws:CurrentTime"] = draw(st.sampled_from(["2024-06-01T00:00:00Z", "2026-01-01"]))
    if draw(st.booleans()):
        context["aws:TagKeys"] = draw(st.lists(st.sampled_from(["t1", "t2", "x"]), max_size=2))
    return Request(
        principal_arn="" if anonymous else f"arn:aws:iam::{ACCOUNT}:user/{user}",
        account=ACCOUNT,
        action=draw(st.sampled_from(ACTIONS)),
        resource=f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else ""),
        context=context,
        anonymous=anonymous,
    )


def compile_all(docs: list[list[dict[str, Any]]], kind: Any) -> list[Policy]:
    return [parse_policy(doc(*sts), kind=kind) for sts in docs if sts]


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    requests(),
    policy_docs("identity"),
    policy_docs("resource"),
    st.data(),
)
def test_an_explicit_deny_always_wins(
    request_: Request,
    id_docs: list[list[dict[str, Any]]],
    res_docs: list[list[dict[str, Any]]],
    data: st.DataObject,
) -> None:
    action = data.draw(
        st.sampled_from([request_.action, request_.action.upper(), "*",
                         request_.action.split(":")[0] + ":*"])
    )  # fmt: skip
    target = data.draw(st.sampled_from(["identity", "resource"]))
    deny: dict[str, Any] = {
        "Effect": "Deny",
        "Action": action,
        "Resource": data.draw(st.sampled_from([request_.resource, "*", request_.resource + "*"])),
    }
    if target == "resource":
        deny["Principal"] = data.draw(st.sampled_from(["*", {"AWS": "*"}]))
    docs = id_docs if target == "identity" else res_docs
    if docs and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(docs) - 1))
        docs[index].insert(data.draw(st.integers(0, len(docs[index]))), deny)
    else:
        docs.append([deny])
    decision: Decision = evaluate(
        request_, compile_all(id_docs, "identity"), compile_all(res_docs, "resource")
    )
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.matches and all(m.effect == "Deny" for m in decision.matches)


@PROPERTY
@given(requests(), policy_docs("identity"), policy_docs("resource"))
def test_without_allow_statements_nothing_is_allowed(
    request_: Request,
    id_docs: list[list[dict[str, Any]]],
    res_docs: list[list[dict[str, Any]]],
) -> None:
    before = evaluate(request_, compile_all(id_docs, "identity"), compile_all(res_docs, "resource"))
    denies_only = [
        [[s for s in sts if s["Effect"] == "Deny"] for sts in docs] for docs in (id_docs, res_docs)
    ]
    after = evaluate(
        request_,
        compile_all(denies_only[0], "identity"),
        compile_all(denies_only[1], "resource"),
    )
    assert after.outcome is not Outcome.ALLOW
    # Removing allows never changes an explicit deny, and never creates one.
    assert (after.outcome is Outcome.EXPLICIT_DENY) == (before.outcome is Outcome.EXPLICIT_DENY)

"""Errors and size quotas of policy documents, with the messages AWS answers.

Message sources: IAM's MalformedPolicyDocument texts as returned by CreatePolicy/PutUserPolicy
(e.g. "Syntax errors in policy.", "Policy document should not specify a principal."); S3's
MalformedPolicy texts for PutBucketPolicy (e.g. "Missing required field Principal", "Invalid
principal in policy", "Policy has invalid action"); IAM quotas from the IAM User Guide "IAM and
AWS STS quotas" ("IAM doesn't count white space when calculating the size of a policy"); S3's
"Bucket policies are limited to 20 KB in size".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["identity", "resource"]
LimitName = Literal["user", "group", "role", "managed", "trust", "bucket"]


class PolicyError(Exception):
    """Base: ``code`` is the AWS error code, ``message`` the AWS-like text."""

    code = "PolicyError"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # what exactly was wrong, for logs; AWS's message is terse


class MalformedPolicyDocument(PolicyError):
    """IAM: ``MalformedPolicyDocument``; for resource policies S3 calls it ``MalformedPolicy``."""

    code = "MalformedPolicyDocument"

    def __init__(self, message: str, *, kind: Kind = "identity", detail: str | None = None):
        super().__init__(message, detail=detail)
        self.kind = kind
        if kind == "resource":
            self.code = "MalformedPolicy"


class LimitExceeded(PolicyError):
    code = "LimitExceeded"


@dataclass(frozen=True, slots=True)
class SizeLimit:
    maximum: int
    unit: Literal["characters", "bytes"]
    message: str  # may name {entity}

    def measure(self, text: str) -> int:
        """Size without white space (IAM: "doesn't count white space"; S3 likewise strips it)."""
        if self.unit == "characters":
            return sum(1 for c in text if not c.isspace())
        return len("".join(text.split()).encode("utf-8"))


LIMITS: Mapping[LimitName, SizeLimit] = {
    # Inline limits are per entity, for the sum of all its inline policies: callers that keep
    # several inline policies should measure() them all and compare against .maximum.
    "user": SizeLimit(2048, "characters", "Maximum policy size of 2048 bytes exceeded for user"),
    "group": SizeLimit(5120, "characters", "Maximum policy size of 5120 bytes exceeded for group"),
    "role": SizeLimit(10240, "characters", "Maximum policy size of 10240 bytes exceeded for role"),
    "managed": SizeLimit(6144, "characters", "Cannot exceed quota for PolicySize: 6144"),
    "trust": SizeLimit(2048, "characters", "Cannot exceed quota for ACLSizePerRole: 2048"),
    "bucket": SizeLimit(20480, "bytes", "Policy exceeds the maximum allowed document size."),
}

DEFAULT_LIMIT: Mapping[Kind, LimitName] = {"identity": "managed", "resource": "bucket"}


@dataclass(frozen=True, slots=True)
class Dialect:
    """The AWS messages for one policy kind."""

    syntax: str
    missing: str  # {field}
    unknown_field: str  # {field}
    effect: str  # {effect}
    principal_forbidden: str
    principal: str
    legacy: str
    sid: str
    no_actions: str
    no_resources: str
    no_vendor: str
    one_colon: str
    vendor_wildcard: str
    vendor: str  # {vendor}
    unknown_service: str  # {vendor}
    unknown_action: str  # {action}
    resource_format: str  # {resource}
    partition: str  # {partition} {resource}
    resource_vendor: str
    s3_region: str  # {resource}
    iam_region: str  # {resource}
    iam_path: str
    outside_bucket: str  # {resource}
    mismatch: str
    condition_operator: str  # {operator}
    condition_key: str  # {key}
    condition_value: str  # {detail}
    empty: str
    version: str


_IAM_PATHS = (
    "user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, "
    "policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/"
)

IDENTITY = Dialect(
    syntax="Syntax errors in policy.",
    missing="Syntax errors in policy.",
    unknown_field="Syntax errors in policy.",
    effect="Syntax errors in policy.",
    principal_forbidden="Policy document should not specify a principal.",
    principal="Policy document should not specify a principal.",
    legacy="The policy failed legacy parsing",
    sid="Statement IDs (SID) in a single policy must be unique.",
    no_actions="Policy statement must contain actions.",
    no_resources="Policy statement must contain resources.",
    no_vendor="Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    one_colon="Actions/Condition can contain only one colon.",
    vendor_wildcard="Action vendors must not contain wildcards.",
    vendor="Vendor {vendor} is not valid",
    unknown_service="Invalid service: The service {vendor} does not exist.",
    unknown_action="Invalid action: The action {action} does not exist.",
    resource_format='Resource {resource} must be in ARN format or "*".',
    partition='Partition "{partition}" is not valid for resource "{resource}".',
    resource_vendor="Resource vendor must be fully qualified and cannot contain regexes.",
    s3_region="Resource {resource} can not contain region information.",
    iam_region="IAM resource {resource} cannot contain region information.",
    iam_path='IAM resource path must either be "*" or start with ' + _IAM_PATHS + ".",
    outside_bucket="Policy has invalid resource",
    mismatch="Action does not apply to any resource(s) in statement",
    condition_operator="Syntax errors in policy.",
    condition_key="Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    condition_value="The policy failed legacy parsing",
    empty="Syntax errors in policy.",
    version="Syntax errors in policy.",
)

RESOURCE = Dialect(
    syntax="This policy contains invalid Json",
    missing="Missing required field {field}",
    unknown_field="Unknown field {field}",
    effect="Invalid effect: {effect}",
    principal_forbidden="Invalid principal in policy",
    principal="Invalid principal in policy",
    legacy="Invalid policy syntax.",
    sid="Statement IDs (SID) in a single policy must be unique.",
    no_actions="Missing required field Action",
    no_resources="Missing required field Resource",
    no_vendor="Policy has invalid action",
    one_colon="Policy has invalid action",
    vendor_wildcard="Policy has invalid action",
    vendor="Policy has invalid action",
    unknown_service="Policy has invalid action",
    unknown_action="Policy has invalid action",
    resource_format="Policy has invalid resource",
    partition="Policy has invalid resource",
    resource_vendor="Policy has invalid resource",
    s3_region="Policy has invalid resource",
    iam_region="Policy has invalid resource",
    iam_path="Policy has invalid resource",
    outside_bucket="Policy has invalid resource",
    mismatch="Action does not apply to any resource(s) in statement",
    condition_operator="Invalid Condition type : {operator}",
    condition_key="Policy has an invalid condition key",
    condition_value="Invalid policy syntax.",
    empty="Could not parse the policy: Statement is empty!",
    version="The policy must contain a valid version string",
)

DIALECTS: Mapping[Kind, Dialect] = {"identity": IDENTITY, "resource": RESOURCE}

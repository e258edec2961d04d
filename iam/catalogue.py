"""The known actions: what a policy's Action / NotAction patterns are validated against.

Names follow AWS's Service Authorization Reference ("Actions, resources, and condition keys for
Amazon S3 / AWS IAM / AWS STS"). Each S3 action carries the resource type it applies to, which
bucket-policy validation uses ("Action does not apply to any resource(s) in statement").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Scope = Literal["object", "bucket", "service", "other"]

_S3_OBJECT = """AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging
DeleteObjectVersion DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes
GetObjectLegalHold GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion
GetObjectVersionAcl GetObjectVersionAttributes GetObjectVersionForReplication
GetObjectVersionTagging GetObjectVersionTorrent ListMultipartUploadParts
ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectLegalHold PutObjectRetention
PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete ReplicateObject
ReplicateTags RestoreObject"""

_S3_BUCKET = """CreateBucket DeleteBucket DeleteBucketOwnershipControls DeleteBucketPolicy
DeleteBucketWebsite GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl
GetBucketCORS GetBucketLocation GetBucketLogging GetBucketNotification
GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus
GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging GetBucketVersioning
GetBucketWebsite GetEncryptionConfiguration GetIntelligentTieringConfiguration
GetInventoryConfiguration GetLifecycleConfiguration GetMetricsConfiguration
GetReplicationConfiguration ListBucket ListBucketMultipartUploads ListBucketVersions
PutAccelerateConfiguration PutAnalyticsConfiguration PutBucketAcl PutBucketCORS PutBucketLogging
PutBucketNotification PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy
PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging PutBucketVersioning
PutBucketWebsite PutEncryptionConfiguration PutIntelligentTieringConfiguration
PutInventoryConfiguration PutLifecycleConfiguration PutMetricsConfiguration
PutReplicationConfiguration"""

_S3_SERVICE = """CreateJob GetAccountPublicAccessBlock ListAccessPoints ListAllMyBuckets ListJobs
PutAccountPublicAccessBlock"""

_S3_OTHER = """CreateAccessPoint DeleteAccessPoint DeleteAccessPointPolicy DescribeJob
GetAccessPoint GetAccessPointPolicy PutAccessPointPolicy UpdateJobPriority UpdateJobStatus"""

_IAM = """AddUserToGroup AttachGroupPolicy AttachRolePolicy AttachUserPolicy ChangePassword
CreateAccessKey CreateAccountAlias CreateGroup CreateLoginProfile CreatePolicy
CreatePolicyVersion CreateRole CreateUser DeleteAccessKey DeleteAccountAlias DeleteGroup
DeleteGroupPolicy DeleteLoginProfile DeletePolicy DeletePolicyVersion DeleteRole DeleteRolePolicy
DeleteUser DeleteUserPolicy DetachGroupPolicy DetachRolePolicy DetachUserPolicy
GetAccessKeyLastUsed GetAccountAuthorizationDetails GetAccountSummary GetGroup GetGroupPolicy
GetLoginProfile GetPolicy GetPolicyVersion GetRole GetRolePolicy GetUser GetUserPolicy
ListAccessKeys ListAccountAliases ListAttachedGroupPolicies ListAttachedRolePolicies
ListAttachedUserPolicies ListEntitiesForPolicy ListGroupPolicies ListGroups ListGroupsForUser
ListPolicies ListPolicyTags ListPolicyVersions ListRolePolicies ListRoleTags ListRoles
ListUserPolicies ListUserTags ListUsers PassRole PutGroupPolicy PutRolePolicy PutUserPolicy
RemoveUserFromGroup SetDefaultPolicyVersion SimulateCustomPolicy SimulatePrincipalPolicy
TagPolicy TagRole TagUser UntagPolicy UntagRole UntagUser UpdateAccessKey UpdateAssumeRolePolicy
UpdateGroup UpdateLoginProfile UpdateRole UpdateUser"""

_STS = """AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity DecodeAuthorizationMessage
GetAccessKeyInfo GetCallerIdentity GetFederationToken GetSessionToken TagSession"""


def _scoped(text: str, scope: Scope) -> dict[str, Scope]:
    return {name: scope for name in text.split()}


S3_ACTIONS: Mapping[str, Scope] = {
    **_scoped(_S3_OBJECT, "object"),
    **_scoped(_S3_BUCKET, "bucket"),
    **_scoped(_S3_SERVICE, "service"),
    **_scoped(_S3_OTHER, "other"),
}
"""S3 action name -> the resource type it applies to."""


class Catalogue:
    """Known actions per service prefix, looked up case-insensitively (as AWS matches actions)."""

    def __init__(self, services: Mapping[str, Iterable[str]]) -> None:
        self._names: dict[str, tuple[str, ...]] = {
            prefix.lower(): tuple(sorted(names)) for prefix, names in services.items()
        }
        self._lowered: dict[str, frozenset[str]] = {
            prefix: frozenset(n.lower() for n in names) for prefix, names in self._names.items()
        }

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._names

    def actions(self, prefix: str) -> tuple[str, ...]:
        """The action names of one service, in their documented spelling."""
        return self._names.get(prefix.lower(), ())

    def is_known(self, action: str) -> bool:
        """True for an exact "service:Name" the catalogue lists (any case)."""
        prefix, _, name = action.partition(":")
        return name.lower() in self._lowered.get(prefix.lower(), frozenset())


DEFAULT_CATALOGUE = Catalogue({"s3": S3_ACTIONS.keys(), "iam": _IAM.split(), "sts": _STS.split()})

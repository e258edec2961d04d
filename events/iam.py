"""Commands and events of the iam service: users, groups, access keys, policies, denials.

Secrets never enter the log in the clear: access-key secrets travel and are stored encrypted
under the installation's master key (iam/keys.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.envelope import Message, registry

ACCOUNT = "000000000000"

# ---------------------------------------------------------------- commands


@registry.register
class CreateUser(Message):
    TYPE = "iam.CreateUser"
    user_name: str
    """The new user's name (1-64 of A-Za-z0-9+=,.@_-)."""
    path: str = "/"
    """IAM path."""


@registry.register
class DeleteUser(Message):
    TYPE = "iam.DeleteUser"
    user_name: str
    """The user to delete (must have no keys, policies or groups left)."""


@registry.register
class CreateAccessKey(Message):
    TYPE = "iam.CreateAccessKey"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The new key's id (chosen by the API)."""
    secret_ciphertext: str
    """The secret, encrypted under the master key."""


@registry.register
class DeleteAccessKey(Message):
    TYPE = "iam.DeleteAccessKey"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The key to delete."""


@registry.register
class UpdateAccessKey(Message):
    TYPE = "iam.UpdateAccessKey"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The key."""
    status: Literal["Active", "Inactive"]
    """The new status; an inactive key stops working at once."""


@registry.register
class CreateGroup(Message):
    TYPE = "iam.CreateGroup"
    group_name: str
    """The new group's name."""
    path: str = "/"
    """IAM path."""


@registry.register
class AddUserToGroup(Message):
    TYPE = "iam.AddUserToGroup"
    group_name: str
    """The group."""
    user_name: str
    """The user to add."""


@registry.register
class RemoveUserFromGroup(Message):
    TYPE = "iam.RemoveUserFromGroup"
    group_name: str
    """The group."""
    user_name: str
    """The user to remove."""


@registry.register
class PutUserPolicy(Message):
    TYPE = "iam.PutUserPolicy"
    user_name: str
    """The user."""
    policy_name: str
    """Inline policy name."""
    document: str
    """The policy JSON (validated before it is sent)."""


@registry.register
class PutGroupPolicy(Message):
    TYPE = "iam.PutGroupPolicy"
    group_name: str
    """The group."""
    policy_name: str
    """Inline policy name."""
    document: str
    """The policy JSON."""


@registry.register
class CreatePolicy(Message):
    TYPE = "iam.CreatePolicy"
    policy_name: str
    """Managed policy name."""
    document: str
    """The policy JSON."""
    path: str = "/"
    """IAM path."""
    description: str = ""
    """Free text."""


@registry.register
class AttachPolicy(Message):
    TYPE = "iam.AttachPolicy"
    target: Literal["user", "group"]
    """What the policy is attached to."""
    name: str
    """The user or group name."""
    policy_arn: str
    """The managed policy."""
    attach: bool = True
    """False detaches."""


@registry.register
class RecordDenial(Message):
    TYPE = "iam.RecordDenial"
    action: str
    """The action refused, e.g. ``s3:PutObject``."""
    resource: str
    """The resource ARN."""
    source_ip: str = ""
    """Where the request came from."""
    reason: str = ""
    """Why (implicit or explicit deny, bad signature ...)."""


# ---------------------------------------------------------------- events


@registry.register
class UserCreated(Message):
    TYPE = "iam.UserCreated"
    user_name: str
    """The user."""
    user_id: str
    """Stable id (AIDA...)."""
    path: str = "/"
    """IAM path."""


@registry.register
class UserDeleted(Message):
    TYPE = "iam.UserDeleted"
    user_name: str
    """The user."""


@registry.register
class AccessKeyCreated(Message):
    TYPE = "iam.AccessKeyCreated"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The key id."""
    secret_ciphertext: str
    """The secret, encrypted under the master key."""


@registry.register
class AccessKeyDeleted(Message):
    TYPE = "iam.AccessKeyDeleted"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The key id."""


@registry.register
class AccessKeyStatusChanged(Message):
    TYPE = "iam.AccessKeyStatusChanged"
    user_name: str
    """Whose key."""
    access_key_id: str
    """The key id."""
    status: Literal["Active", "Inactive"]
    """The new status."""


@registry.register
class GroupCreated(Message):
    TYPE = "iam.GroupCreated"
    group_name: str
    """The group."""
    group_id: str
    """Stable id (AGPA...)."""
    path: str = "/"
    """IAM path."""


@registry.register
class GroupMembershipChanged(Message):
    TYPE = "iam.GroupMembershipChanged"
    group_name: str
    """The group."""
    user_name: str
    """The user."""
    member: bool
    """True: added; False: removed."""


@registry.register
class InlinePolicyPut(Message):
    TYPE = "iam.InlinePolicyPut"
    target: Literal["user", "group"]
    """Whose policy."""
    name: str
    """User or group name."""
    policy_name: str
    """Inline policy name."""
    document: str
    """The policy JSON."""


@registry.register
class PolicyCreated(Message):
    TYPE = "iam.PolicyCreated"
    policy_name: str
    """Managed policy name."""
    policy_arn: str
    """Its ARN."""
    policy_id: str
    """Stable id (ANPA...)."""
    document: str
    """The policy JSON."""
    path: str = "/"
    """IAM path."""
    description: str = ""
    """Free text."""


@registry.register
class PolicyAttachmentChanged(Message):
    TYPE = "iam.PolicyAttachmentChanged"
    target: Literal["user", "group"]
    """User or group."""
    name: str
    """Its name."""
    policy_arn: str
    """The managed policy."""
    attached: bool
    """True: attached; False: detached."""


@registry.register
class RequestDenied(Message):
    TYPE = "iam.RequestDenied"
    action: str
    """The action refused."""
    resource: str
    """The resource ARN."""
    source_ip: str = ""
    """Where the request came from."""
    reason: str = ""
    """Why."""


@registry.register
class IamCommandRejected(Message):
    TYPE = "iam.CommandRejected"
    command: str
    """The rejected command's type."""
    code: str
    """IAM error code (NoSuchEntity, EntityAlreadyExists, DeleteConflict, LimitExceeded ...)."""
    message: str
    """Why."""
    names: dict[str, str] = Field(default_factory=dict)
    """The names the command carried (user, group, policy)."""


EVENTS = (
    UserCreated,
    UserDeleted,
    AccessKeyCreated,
    AccessKeyDeleted,
    AccessKeyStatusChanged,
    GroupCreated,
    GroupMembershipChanged,
    InlinePolicyPut,
    PolicyCreated,
    PolicyAttachmentChanged,
    RequestDenied,
    IamCommandRejected,
)

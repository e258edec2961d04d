"""Pure decisions of the iam service (AWS IAM's rules and error codes)."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from bus import subjects
from events.envelope import Envelope
from events.iam import (
    ACCOUNT,
    AccessKeyCreated,
    AccessKeyDeleted,
    AccessKeyStatusChanged,
    AddUserToGroup,
    AttachPolicy,
    CreateAccessKey,
    CreateGroup,
    CreatePolicy,
    CreateUser,
    DeleteAccessKey,
    DeleteUser,
    GroupCreated,
    GroupMembershipChanged,
    IamCommandRejected,
    InlinePolicyPut,
    PolicyAttachmentChanged,
    PolicyCreated,
    PutGroupPolicy,
    PutUserPolicy,
    RemoveUserFromGroup,
    UpdateAccessKey,
    UserCreated,
    UserDeleted,
)
from handlers.decision import AlreadyApplied, Append, Decision, Reject, caused_by
from handlers.iam.state import Key, Policy, Principal

NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
MAX_KEYS_PER_USER = 2


def stable_id(prefix: str, name: str, seq_hint: str) -> str:
    """AWS-style unique ids (AIDA…, AGPA…, ANPA…), derived from the command for idempotence."""
    digest = hashlib.sha256(f"{name}:{seq_hint}".encode()).hexdigest().upper()
    return prefix + "".join(c for c in digest if c.isalnum())[:17]


def policy_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def rejection(command: Envelope, decision: Reject) -> IamCommandRejected:
    names = {
        k: str(v)
        for k, v in command.data.model_dump().items()
        if k in ("user_name", "group_name", "policy_name", "name", "policy_arn")
    }
    return IamCommandRejected(
        command=command.type, code=decision.code, message=decision.message, names=names
    )


def validate(command: Envelope) -> Reject | None:
    data = command.data
    for field in ("user_name", "group_name", "policy_name"):
        value = getattr(data, field, None)
        if value is not None and not NAME.match(value):
            return Reject(
                "ValidationError",
                f"The specified value for {field} is invalid. It must "
                "contain only alphanumeric characters and/or the following: +=,.@_-",
            )
    user = getattr(data, "user_name", None)
    if user is not None and len(user) > 64:
        return Reject("ValidationError", "The user name must be at most 64 characters.")
    return None


def no_entity(kind: str, name: str) -> Reject:
    return Reject("NoSuchEntity", f"The {kind} with name {name} cannot be found.")


def create_user(command: Envelope, user: Principal) -> Decision:
    data = command.data
    assert isinstance(data, CreateUser)
    if caused_by(user.last, command):
        return AlreadyApplied(user.seq)
    if user.exists:
        return Reject("EntityAlreadyExists", f"User with name {data.user_name} already exists.")
    subject = subjects.iam_user(data.user_name)
    event = UserCreated(
        user_name=data.user_name,
        path=data.path,
        user_id=stable_id("AIDA", data.user_name, str(command.id)),
    )
    return Append(subject, event, user.seq, subject)


def delete_user(command: Envelope, user: Principal, everything: int, keys: int) -> Decision:
    data = command.data
    assert isinstance(data, DeleteUser)
    if caused_by(user.last, command):
        return AlreadyApplied(user.seq)
    if not user.exists:
        return no_entity("user", data.user_name)
    if keys or user.policies or user.attached or user.groups:
        return Reject(
            "DeleteConflict",
            "Cannot delete entity, must delete access keys, policies and group memberships first.",
        )
    return Append(
        subjects.iam_user(data.user_name),
        UserDeleted(user_name=data.user_name),
        everything,
        subjects.iam_user_all(data.user_name),
    )


def create_access_key(command: Envelope, user: Principal, keys: int) -> Decision:
    data = command.data
    assert isinstance(data, CreateAccessKey)
    if not user.exists:
        return no_entity("user", data.user_name)
    if keys >= MAX_KEYS_PER_USER:
        return Reject(
            "LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
        )
    event = AccessKeyCreated(
        user_name=data.user_name,
        access_key_id=data.access_key_id,
        secret_ciphertext=data.secret_ciphertext,
    )
    return Append(
        subjects.iam_key(data.user_name, data.access_key_id),
        event,
        user.seq,
        subjects.iam_user(data.user_name),
    )


def change_key(command: Envelope, key: Key) -> Decision:
    data = command.data
    assert isinstance(data, DeleteAccessKey | UpdateAccessKey)
    if caused_by(key.last, command):
        return AlreadyApplied(key.seq)
    if not key.exists:
        return Reject(
            "NoSuchEntity", f"The Access Key with id {data.access_key_id} cannot be found."
        )
    subject = subjects.iam_key(data.user_name, data.access_key_id)
    if isinstance(data, DeleteAccessKey):
        event: AccessKeyDeleted | AccessKeyStatusChanged = AccessKeyDeleted(
            user_name=data.user_name, access_key_id=data.access_key_id
        )
    else:
        event = AccessKeyStatusChanged(
            user_name=data.user_name, access_key_id=data.access_key_id, status=data.status
        )
    return Append(subject, event, key.seq, subject)


def create_group(command: Envelope, group: Principal) -> Decision:
    data = command.data
    assert isinstance(data, CreateGroup)
    if caused_by(group.last, command):
        return AlreadyApplied(group.seq)
    if group.exists:
        return Reject("EntityAlreadyExists", f"Group with name {data.group_name} already exists.")
    subject = subjects.iam_group(data.group_name)
    event = GroupCreated(
        group_name=data.group_name,
        path=data.path,
        group_id=stable_id("AGPA", data.group_name, str(command.id)),
    )
    return Append(subject, event, group.seq, subject)


def membership(command: Envelope, user: Principal, group: Principal) -> Decision:
    data = command.data
    assert isinstance(data, AddUserToGroup | RemoveUserFromGroup)
    if caused_by(user.last, command):
        return AlreadyApplied(user.seq)
    if not user.exists:
        return no_entity("user", data.user_name)
    if not group.exists:
        return no_entity("group", data.group_name)
    adding = isinstance(data, AddUserToGroup)
    if not adding and data.group_name not in user.groups:
        return Reject("NoSuchEntity", f"User {data.user_name} is not in group {data.group_name}.")
    subject = subjects.iam_user(data.user_name)
    event = GroupMembershipChanged(
        group_name=data.group_name, user_name=data.user_name, member=adding
    )
    return Append(subject, event, user.seq, subject)


def put_inline_policy(command: Envelope, target: Principal) -> Decision:
    data = command.data
    assert isinstance(data, PutUserPolicy | PutGroupPolicy)
    kind: Literal["user", "group"] = "user" if isinstance(data, PutUserPolicy) else "group"
    name = data.user_name if isinstance(data, PutUserPolicy) else data.group_name
    if caused_by(target.last, command):
        return AlreadyApplied(target.seq)
    if not target.exists:
        return no_entity(kind, name)
    subject = subjects.iam_user(name) if kind == "user" else subjects.iam_group(name)
    event = InlinePolicyPut(
        target=kind,
        name=name,
        policy_name=data.policy_name,
        document=data.document,
    )
    return Append(subject, event, target.seq, subject)


def create_policy(command: Envelope, policy: Policy) -> Decision:
    data = command.data
    assert isinstance(data, CreatePolicy)
    arn = policy_arn(data.policy_name, data.path)
    if policy.created is not None:
        if policy.created.policy_arn == arn and policy.seq and caused_by(None, command):
            return AlreadyApplied(policy.seq)
        return Reject(
            "EntityAlreadyExists",
            f"A policy called {data.policy_name} already exists. Duplicate names are not allowed.",
        )
    subject = subjects.iam_policy(data.policy_name)
    event = PolicyCreated(
        policy_name=data.policy_name,
        policy_arn=arn,
        document=data.document,
        path=data.path,
        description=data.description,
        policy_id=stable_id("ANPA", data.policy_name, str(command.id)),
    )
    return Append(subject, event, policy.seq, subject)


def attach_policy(command: Envelope, target: Principal, policy: Policy) -> Decision:
    data = command.data
    assert isinstance(data, AttachPolicy)
    if caused_by(target.last, command):
        return AlreadyApplied(target.seq)
    if not target.exists:
        return no_entity(data.target, data.name)
    if policy.created is None or policy.created.policy_arn != data.policy_arn:
        return Reject(
            "NoSuchEntity", f"Policy {data.policy_arn} does not exist or is not attachable."
        )
    if not data.attach and data.policy_arn not in target.attached:
        return Reject("NoSuchEntity", f"Policy {data.policy_arn} was not found.")
    subject = (
        subjects.iam_user(data.name) if data.target == "user" else subjects.iam_group(data.name)
    )
    event = PolicyAttachmentChanged(
        target=data.target, name=data.name, policy_arn=data.policy_arn, attached=data.attach
    )
    return Append(subject, event, target.seq, subject)


def policy_name_of(arn: str) -> str | None:
    prefix = f"arn:aws:iam::{ACCOUNT}:policy/"
    return arn[len(prefix) :].rsplit("/", 1)[-1] if arn.startswith(prefix) else None

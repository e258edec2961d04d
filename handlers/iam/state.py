"""State of iam aggregates, folded from their events (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bus.log import Stored
from events.envelope import Envelope
from events.iam import (
    AccessKeyCreated,
    AccessKeyDeleted,
    AccessKeyStatusChanged,
    GroupCreated,
    GroupMembershipChanged,
    InlinePolicyPut,
    PolicyAttachmentChanged,
    PolicyCreated,
    UserCreated,
    UserDeleted,
)


@dataclass
class Principal:
    """A user or a group: its lifecycle, inline policies, attachments (and a user's groups)."""

    seq: int = 0
    exists: bool = False
    id: str = ""
    policies: dict[str, str] = field(default_factory=dict)
    attached: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    last: Envelope | None = None


def fold_principal(events: list[Stored]) -> Principal:
    p = Principal()
    for stored in events:
        data = stored.envelope.data
        p.seq, p.last = stored.seq, stored.envelope
        if isinstance(data, UserCreated | GroupCreated):
            p = Principal(
                seq=stored.seq,
                exists=True,
                last=stored.envelope,
                id=data.user_id if isinstance(data, UserCreated) else data.group_id,
            )
        elif isinstance(data, UserDeleted):
            p.exists = False
        elif isinstance(data, InlinePolicyPut):
            p.policies[data.policy_name] = data.document
        elif isinstance(data, PolicyAttachmentChanged):
            (p.attached.add if data.attached else p.attached.discard)(data.policy_arn)
        elif isinstance(data, GroupMembershipChanged):
            (p.groups.add if data.member else p.groups.discard)(data.group_name)
    return p


@dataclass
class Key:
    seq: int = 0
    exists: bool = False
    status: str = "Active"
    last: Envelope | None = None


def fold_key(events: list[Stored]) -> Key:
    k = Key()
    for stored in events:
        data = stored.envelope.data
        k.seq, k.last = stored.seq, stored.envelope
        if isinstance(data, AccessKeyCreated):
            k.exists, k.status = True, "Active"
        elif isinstance(data, AccessKeyDeleted):
            k.exists = False
        elif isinstance(data, AccessKeyStatusChanged):
            k.status = data.status
    return k


def live_keys(latest_per_key: list[Stored]) -> int:
    return sum(1 for s in latest_per_key if not isinstance(s.envelope.data, AccessKeyDeleted))


@dataclass
class Policy:
    seq: int = 0
    created: PolicyCreated | None = None


def fold_policy(events: list[Stored]) -> Policy:
    p = Policy()
    for stored in events:
        p.seq = stored.seq
        if isinstance(stored.envelope.data, PolicyCreated):
            p.created = stored.envelope.data
    return p

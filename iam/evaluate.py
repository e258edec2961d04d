"""Deciding a request against identity-based and resource-based policies (same account).

IAM User Guide, "Policy evaluation logic" / "Policy evaluation for requests within a single
account" / "How AWS enforcement code logic evaluates requests to allow or deny access":

1. "An explicit deny in any of the policies overrides the allow": every policy given is checked
   for a matching Deny first (identity policies too, even for an anonymous request -- a deny
   can only make the answer safer).
2. "If either the identity-based policy or the resource-based policy within the same account
   allows the request and the other doesn't, the request is still allowed."
   * Identity-policy Allows count only for an authenticated principal.
   * A resource-policy Allow counts when its Principal names the caller directly: ``"*"`` /
     ``{"AWS": "*"}`` (the only grant an anonymous request can get), the caller's user/role ARN,
     the role of an assumed-role session, or the caller's unique id. Naming the *account* (its
     12-digit id or ``arn:aws:iam::ID:root``) "delegates authority to the account" (Principal
     element docs), so for an IAM user it is not a grant on its own: the user still needs an
     identity-policy Allow. It does grant to the account root user itself.
   * "By default, all requests are implicitly denied with the exception of the AWS account
     root user, which has full access" -- the root user is allowed unless explicitly denied.
3. Otherwise: implicit deny.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from iam.conditions import evaluate_all
from iam.patterns import Context
from iam.policy import Effect, Policy, Statement

Source = Literal["identity", "resource"]


class Outcome(enum.StrEnum):
    EXPLICIT_DENY = "explicit_deny"
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True, slots=True)
class Request:
    principal_arn: str  # e.g. "arn:aws:iam::000000000000:user/alice"; ignored when anonymous
    account: str  # the account the caller and the resource belong to
    action: str  # e.g. "s3:GetObject"
    resource: str  # e.g. "arn:aws:s3:::photos/public/cat.jpg"
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    anonymous: bool = False

    @property
    def is_root(self) -> bool:
        return not self.anonymous and self.principal_arn == f"arn:aws:iam::{self.account}:root"


@dataclass(frozen=True, slots=True)
class Match:
    """One statement that applied to the request."""

    source: Source
    policy: str  # the policy's label, else its Id, else "identity#0" / "resource#1"
    statement: int  # index in the policy's Statement list
    sid: str | None
    effect: Effect


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    matches: tuple[Match, ...]  # the denies for explicit_deny, the allows for allow
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def sids(self) -> tuple[str, ...]:
        return tuple(m.sid for m in self.matches if m.sid)


def _user_name(arn: str) -> str | None:
    _, sep, rest = arn.partition(":user/")
    return rest.rsplit("/", 1)[-1] if sep and arn.startswith("arn:") else None


def request_context(request: Request) -> Context:
    """The request context with lower-cased keys (key names are case-insensitive) plus the keys
    AWS derives from the principal, unless the caller already set them."""
    ctx: Context = {k.lower(): v for k, v in request.context.items()}
    if request.anonymous:
        ctx.setdefault("aws:principaltype", "Anonymous")
        return ctx
    ctx.setdefault("aws:principalarn", request.principal_arn)
    ctx.setdefault("aws:principalaccount", request.account)
    name = _user_name(request.principal_arn)
    if name is not None:
        ctx.setdefault("aws:username", name)
        ctx.setdefault("aws:principaltype", "User")
    elif request.is_root:
        ctx.setdefault("aws:principaltype", "Account")
    return ctx


def _session_role(arn: str) -> str | None:
    """arn:aws:sts::ID:assumed-role/R/session -> arn:aws:iam::ID:role/R."""
    head, sep, rest = arn.partition(":assumed-role/")
    if not sep or ":sts::" not in head:
        return None
    return head.replace(":sts::", ":iam::") + ":role/" + rest.split("/", 1)[0]


def _principal(st: Statement, request: Request, ctx: Context) -> Literal["direct", "account", ""]:
    """How a resource-policy statement's Principal / NotPrincipal names the caller."""
    p = st.principals
    if p is None:
        return "direct"
    if p.everyone:
        named: Literal["direct", "account", ""] = "direct"
    elif request.anonymous:
        named = ""
    elif request.principal_arn in p.names or _session_role(request.principal_arn) in p.names:
        named = "direct"
    elif (uid := ctx.get("aws:userid")) is not None and isinstance(uid, str) and uid in p.names:
        named = "direct"
    elif request.account in p.accounts:
        named = "account"
    else:
        named = ""
    if st.not_principal:  # applies to everyone *not* named
        return "" if named else "direct"
    return named


def _applies(st: Statement, request: Request, ctx: Context) -> bool:
    if not st.matches_action(request.action):
        return False
    if not st.matches_resource(request.resource, ctx):  # False or None (unresolved variable)
        return False
    return not st.conditions or evaluate_all(st.conditions, ctx) is True


def evaluate(
    request: Request,
    identity_policies: Sequence[Policy],
    resource_policies: Sequence[Policy],
) -> Decision:
    ctx = request_context(request)
    denies: list[Match] = []
    allows: list[Match] = []
    delegated: list[Match] = []
    sets: tuple[tuple[Source, Sequence[Policy]], ...] = (
        ("identity", identity_policies),
        ("resource", resource_policies),
    )
    for source, policies in sets:
        for n, policy in enumerate(policies):
            name = policy.label or policy.id or f"{source}#{n}"
            for st in policy.statements:
                if not _applies(st, request, ctx):
                    continue
                named = _principal(st, request, ctx) if source == "resource" else "direct"
                if not named:
                    continue
                match = Match(source, name, st.index, st.sid, st.effect)
                if st.effect == "Deny":
                    denies.append(match)
                elif source == "identity" and request.anonymous:
                    continue
                elif named == "account" and not request.is_root:
                    delegated.append(match)
                else:
                    allows.append(match)
    if denies:
        return Decision(Outcome.EXPLICIT_DENY, tuple(denies), "explicitly denied")
    if allows:
        return Decision(Outcome.ALLOW, tuple(allows), "explicitly allowed")
    if request.is_root:
        return Decision(Outcome.ALLOW, (), "the account root user has full access")
    if delegated:
        reason = "the resource policy grants to the account; no identity policy allows"
        return Decision(Outcome.IMPLICIT_DENY, tuple(delegated), reason)
    return Decision(Outcome.IMPLICIT_DENY, (), "no policy allows")

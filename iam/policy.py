"""Policy documents: the JSON grammar, validation, and the compiled form ``evaluate`` uses.

Grammar: IAM User Guide, "Grammar of the IAM JSON policy language" and "IAM JSON policy element
reference" (Version, Id, Statement; Sid, Effect, Principal/NotPrincipal, Action/NotAction,
Resource/NotResource, Condition). Validation order follows what IAM answers (syntax first,
then "legacy parsing", Sid uniqueness, required elements, resources, actions).
``parse_policy`` either returns a complete Policy or raises; there is no partial result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from iam.catalogue import DEFAULT_CATALOGUE, Catalogue
from iam.conditions import Condition, ConditionError, parse_conditions
from iam.errors import (
    DEFAULT_LIMIT,
    DIALECTS,
    LIMITS,
    Dialect,
    Kind,
    LimitExceeded,
    LimitName,
    SizeLimit,
)
from iam.grammar import check_syntax, fail, load, strings
from iam.patterns import Context, Pattern, VariableSyntaxError, compile_pattern
from iam.validate import (
    Invalid,
    Principals,
    action_scopes,
    check_action,
    check_bucket_resource,
    check_resource,
    parse_principals,
    resource_scopes,
)

Effect = Literal["Allow", "Deny"]
_SID = re.compile(r"^[0-9A-Za-z]*$")


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[Pattern, ...] | None  # None: no Resource element (resource policies only)
    not_resource: bool
    principals: Principals | None  # None in identity policies
    not_principal: bool
    conditions: tuple[Condition, ...]
    action_regex: re.Pattern[str]
    resource_regex: re.Pattern[str] | None  # all resources at once when none has a variable

    def matches_action(self, action: str) -> bool:
        hit = self.action_regex.fullmatch(action) is not None
        return hit != self.not_action

    def matches_resource(self, resource: str, ctx: Context) -> bool | None:
        """Three-valued: None when a policy variable in NotResource could not be resolved."""
        if self.resources is None:
            return True
        if self.resource_regex is not None:
            hit: bool | None = self.resource_regex.fullmatch(resource) is not None
        else:
            hit = False
            for pattern in self.resources:
                result = pattern.matches(resource, ctx)
                if result:
                    hit = True
                    break
                if result is None and self.not_resource:
                    hit = None
        if hit is None:
            return None
        return hit != self.not_resource


@dataclass(frozen=True, slots=True)
class Policy:
    kind: Kind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    label: str = ""  # the caller's name for explanations, e.g. "user/alice:inline/ReadOnly"
    size: int = 0  # as measured for the quota


def _limit(limit: LimitName | SizeLimit | None, kind: Kind) -> SizeLimit:
    if isinstance(limit, SizeLimit):
        return limit
    return LIMITS[limit or DEFAULT_LIMIT[kind]]


def parse_policy(
    text: str | bytes,
    *,
    kind: Kind,
    limit: LimitName | SizeLimit | None = None,
    bucket: str | None = None,
    catalogue: Catalogue = DEFAULT_CATALOGUE,
    label: str = "",
) -> Policy:
    """Validate and compile a policy document.

    ``kind``: "identity" (user/group/role/managed policies; IAM's messages) or "resource"
    (bucket policies and other resource-based policies; S3's messages). ``limit`` picks the size
    quota (default: managed policy 6,144 for identity, bucket policy 20 KB for resource).
    ``bucket``: validate as the bucket policy of that bucket (Resource required, inside the
    bucket, each action applicable to a listed resource type). Raises MalformedPolicyDocument or
    LimitExceeded.
    """
    d = DIALECTS[kind]
    quota = _limit(limit, kind)
    raw_text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    size = quota.measure(raw_text)
    if size > quota.maximum:
        raise LimitExceeded(quota.message, detail=f"{size} {quota.unit} > {quota.maximum}")
    doc = load(text, d, kind)
    raws = check_syntax(doc, d, kind)
    assert isinstance(doc, dict)
    version: str | None = doc.get("Version")
    statements = _semantics(raws, d, kind, version == "2012-10-17", bucket, catalogue)
    return Policy(kind, version, doc.get("Id"), statements, label, size)


def _semantics(
    raws: list[dict[str, Any]],
    d: Dialect,
    kind: Kind,
    variables: bool,
    bucket: str | None,
    catalogue: Catalogue,
) -> tuple[Statement, ...]:
    for st in raws:
        has_principal = "Principal" in st or "NotPrincipal" in st
        if kind == "identity" and has_principal:
            raise fail(kind, d.principal_forbidden, "Principal in an identity policy")
        if kind == "resource" and not has_principal:
            raise fail(kind, d.missing.format(field="Principal"), "no Principal")
        if st["Effect"] not in ("Allow", "Deny"):
            raise fail(kind, d.legacy, f"Effect {st['Effect']!r} is not capitalised")
    sids = [st["Sid"] for st in raws if st.get("Sid")]
    if kind == "identity" and not all(_SID.match(s) for s in sids):
        msg = (
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
            "regular expression [0-9A-Za-z]*"
        )
        raise fail(kind, msg, "Sid")
    if len(set(sids)) != len(sids):
        raise fail(kind, d.sid, "duplicate Sid")
    for st in raws:
        if not strings(st.get("Action", st.get("NotAction", []))):
            raise fail(kind, d.no_actions, "no Action")
    for st in raws:
        resources = strings(st.get("Resource", st.get("NotResource", [])))
        if not resources and (kind == "identity" or bucket is not None):
            raise fail(kind, d.no_resources, "no Resource")
    try:
        return tuple(
            _statement(i, st, d, variables, bucket, catalogue) for i, st in enumerate(raws)
        )
    except Invalid as exc:
        raise fail(kind, exc.message, exc.detail) from None


def _statement(
    index: int,
    st: dict[str, Any],
    d: Dialect,
    variables: bool,
    bucket: str | None,
    catalogue: Catalogue,
) -> Statement:
    resources_raw = strings(st.get("Resource", st.get("NotResource"))) or []
    for resource in sorted(resources_raw, reverse=True):
        check_resource(resource, d)
        if bucket is not None:
            check_bucket_resource(resource, bucket, d)
    actions = strings(st.get("Action", st.get("NotAction"))) or []
    for action in actions:
        check_action(action, d, catalogue)
    if bucket is not None and "Action" in st and "Resource" in st:
        scopes = frozenset().union(*(resource_scopes(r) for r in resources_raw))
        for action in actions:
            if not action_scopes(action) & scopes:
                raise Invalid(d.mismatch, action)
    principals = None
    if "Principal" in st or "NotPrincipal" in st:
        principals = parse_principals(st.get("Principal", st.get("NotPrincipal")), d)
    try:
        conditions = parse_conditions(st.get("Condition", {}), variables=variables)
        patterns = tuple(compile_pattern(r, "arn", variables=variables) for r in resources_raw)
    except ConditionError as exc:
        message = {
            "operator": d.condition_operator.format(operator=exc.detail),
            "key": d.condition_key.format(key=exc.detail),
            "value": d.condition_value,
            "legacy": d.legacy,
        }[exc.reason]
        raise Invalid(message, exc.detail) from None
    except VariableSyntaxError as exc:
        raise Invalid(d.legacy, str(exc)) from None
    return Statement(
        index=index,
        sid=st.get("Sid") or None,
        effect=st["Effect"],
        actions=tuple(actions),
        not_action="NotAction" in st,
        resources=patterns if ("Resource" in st or "NotResource" in st) else None,
        not_resource="NotResource" in st,
        principals=principals,
        not_principal="NotPrincipal" in st,
        conditions=conditions,
        action_regex=_alternation([_action_regex(a) for a in actions], ignore_case=True),
        resource_regex=_resource_regex(patterns),
    )


def _action_regex(action: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in action)


def _alternation(regexes: Sequence[str], *, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("|".join(f"(?:{r})" for r in regexes), flags)


def _resource_regex(patterns: tuple[Pattern, ...]) -> re.Pattern[str] | None:
    regexes: list[str] = []
    for p in patterns:
        if p.plain is not None:
            regexes.append(re.escape(p.plain))
        elif p.static is not None:
            regexes.append(p.static.pattern)
        else:
            return None
    return _alternation(regexes, ignore_case=False) if regexes else None

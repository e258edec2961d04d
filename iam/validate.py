"""Checks of single policy elements: actions, resources, principals.

Each check raises ``Invalid`` with the message of the caller's dialect; ``iam.policy`` turns it
into ``MalformedPolicyDocument``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iam.catalogue import S3_ACTIONS, Catalogue, Scope
from iam.errors import Dialect
from iam.patterns import glob_matches


class Invalid(Exception):
    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


_VENDOR = re.compile(r"^[A-Za-z0-9.-]+$")
_ACTION_NAME = re.compile(r"^[A-Za-z0-9*?]+$")
_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "*"})
_IAM_PREFIXES = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
    "server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/",
    "access-report/",
)  # fmt: skip


def check_action(action: str, d: Dialect, catalogue: Catalogue) -> None:
    """An Action/NotAction entry: ``*``, ``service:*`` or a pattern naming a known action."""
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        raise Invalid(d.no_vendor, action)
    if len(parts) > 2:
        raise Invalid(d.one_colon, action)
    vendor, name = parts
    if "*" in vendor or "?" in vendor:
        raise Invalid(d.vendor_wildcard, action)
    if not _VENDOR.match(vendor):
        raise Invalid(d.vendor.format(vendor=vendor), action)
    if not catalogue.has_service(vendor):
        raise Invalid(d.unknown_service.format(vendor=vendor), action)
    if name == "*":
        return
    if not _ACTION_NAME.match(name) or not any(
        glob_matches(name, known, ignore_case=True) for known in catalogue.actions(vendor)
    ):
        raise Invalid(d.unknown_action.format(action=action), action)


def check_resource(resource: str, d: Dialect) -> None:
    """A Resource/NotResource entry: ``*`` or an ARN (wildcards inside segments allowed)."""
    if resource == "*":
        return
    if not resource.startswith("arn:") or resource.count(":") < 5:
        raise Invalid(d.resource_format.format(resource=resource), resource)
    _, partition, service, region, _account, rest = resource.split(":", 5)
    if partition not in _PARTITIONS:
        raise Invalid(d.partition.format(partition=partition, resource=resource), resource)
    if not service or "*" in service or "?" in service:
        raise Invalid(d.resource_vendor, resource)
    if service == "s3" and region:
        raise Invalid(d.s3_region.format(resource=resource), resource)
    if service == "iam" and region:
        raise Invalid(d.iam_region.format(resource=resource), resource)
    if service == "iam" and rest != "*" and not rest.startswith(_IAM_PREFIXES):
        raise Invalid(d.iam_path, resource)


def _literal_prefix(text: str) -> tuple[str, bool]:
    """Text before the first wildcard or variable, and whether there was one."""
    cut = min((i for i in (text.find("*"), text.find("?"), text.find("${")) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


def check_bucket_resource(resource: str, bucket: str, d: Dialect) -> None:
    """S3 accepts only resources of the bucket the policy is attached to."""
    target = f"arn:aws:s3:::{bucket}"
    prefix, open_ended = _literal_prefix(resource)
    inside = prefix == target or prefix.startswith(target + "/")
    if open_ended:
        inside = inside or (target + "/").startswith(prefix)
    if not inside:
        raise Invalid(d.outside_bucket, resource)


def resource_scopes(resource: str) -> frozenset[Scope]:
    """Which S3 resource types a Resource entry can name."""
    if resource == "*" or not resource.startswith("arn:") or resource.count(":") < 5:
        return frozenset({"bucket", "object"})
    prefix, open_ended = _literal_prefix(resource.split(":", 5)[5])
    if "/" in prefix:
        return frozenset({"object"})
    return frozenset({"bucket", "object"}) if open_ended else frozenset({"bucket"})


def action_scopes(action: str) -> frozenset[Scope]:
    """The S3 resource types the actions a pattern names apply to (empty for other services)."""
    vendor, _, name = action.partition(":")
    if action == "*":
        return frozenset(S3_ACTIONS.values())
    if vendor.lower() != "s3":
        return frozenset()
    return frozenset(
        scope for known, scope in S3_ACTIONS.items() if glob_matches(name, known, ignore_case=True)
    )


# ---------------------------------------------------------------- principals

_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):root$")
_ENTITY = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:(?:iam::\d{12}:(?:user|role)|sts::\d{12}:(?:assumed-role|"
    r"federated-user))/[^*?\s]+$"
)
_UNIQUE_ID = re.compile(r"^A[A-Z0-9]{3}[A-Z0-9]{12,128}$")  # AIDA... users, AROA... roles
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


@dataclass(frozen=True, slots=True)
class Principals:
    """A Principal / NotPrincipal element.

    ``everyone``: ``"*"`` or ``{"AWS": "*"}``. ``accounts``: 12-digit ids, from either the short
    form or ``arn:aws:iam::ID:root`` ("The account ARN and the shortened account ID behave the
    same way"). ``names``: user/role/session ARNs, unique ids and other principal types' values.
    """

    everyone: bool
    accounts: frozenset[str]
    names: frozenset[str]


def parse_principals(value: object, d: Dialect) -> Principals:
    if value == "*":
        return Principals(True, frozenset(), frozenset())
    if not isinstance(value, dict) or not value:
        raise Invalid(d.principal, repr(value))
    everyone = False
    accounts: set[str] = set()
    names: set[str] = set()
    for ptype, raw in value.items():
        items = raw if isinstance(raw, list) else [raw]
        if ptype not in _PRINCIPAL_TYPES or not items:
            raise Invalid(d.principal, str(ptype))
        for item in items:
            if not isinstance(item, str) or not item:
                raise Invalid(d.principal, repr(item))
            if ptype != "AWS":
                if "*" in item or "?" in item:
                    raise Invalid(d.principal, item)
                names.add(item)
            elif item == "*":
                everyone = True
            elif _ACCOUNT.match(item):
                accounts.add(item)
            elif (root := _ROOT.match(item)) is not None:
                accounts.add(root.group(1))
            elif _ENTITY.match(item) or _UNIQUE_ID.match(item):
                names.add(item)
            else:
                raise Invalid(d.principal, item)
    return Principals(everyone, frozenset(accounts), frozenset(names))

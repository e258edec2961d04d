"""The JSON layer of a policy document: decoding and the structural (syntax) checks.

IAM answers every structural problem with "Syntax errors in policy."; S3 names the field
("Missing required field Effect", "Unknown field Color", ...). Duplicate JSON keys are refused:
which one would win is exactly the kind of ambiguity an access policy must not have.
"""

from __future__ import annotations

import json
from typing import Any

from iam.errors import Dialect, Kind, MalformedPolicyDocument

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP = frozenset({"Version", "Id", "Statement"})
_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"}
)  # fmt: skip


def fail(kind: Kind, message: str, detail: str | None = None) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(message, kind=kind, detail=detail)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strings(value: object) -> list[str] | None:
    """A string or a list of strings as a list; None when it is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def check_syntax(doc: object, d: Dialect, kind: Kind) -> list[dict[str, Any]]:
    """Structure and element types; returns the statements as a list."""
    if not isinstance(doc, dict):
        raise fail(kind, d.syntax, "the document is not a JSON object")
    for key in doc:
        if key not in _TOP:
            raise fail(kind, d.unknown_field.format(field=key), key)
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise fail(kind, d.version, f"Version {doc['Version']!r}")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise fail(kind, d.syntax, "Id must be a string")
    if "Statement" not in doc:
        raise fail(kind, d.missing.format(field="Statement"), "no Statement")
    raw = doc["Statement"]
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list):
        raise fail(kind, d.syntax, "Statement must be an object or a list")
    if not statements:
        raise fail(kind, d.empty, "Statement is empty")
    for st in statements:
        if not isinstance(st, dict):
            raise fail(kind, d.syntax, "a statement is not an object")
        for key in st:
            if key not in _ELEMENTS:
                raise fail(kind, d.unknown_field.format(field=key), key)
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource")):
            if a in st and b in st:
                raise fail(kind, d.syntax, f"both {a} and {b}")
        if "Principal" in st and "NotPrincipal" in st:
            raise fail(kind, d.principal, "both Principal and NotPrincipal")
        if "Effect" not in st:
            raise fail(kind, d.missing.format(field="Effect"), "no Effect")
        effect = st["Effect"]
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise fail(kind, d.effect.format(effect=effect), f"Effect {effect!r}")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st and strings(st[key]) is None:
                raise fail(kind, d.syntax, f"{key} must be a string or a list of strings")
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise fail(kind, d.syntax, "Sid must be a string")
        if "Condition" in st and not isinstance(st["Condition"], dict):
            raise fail(kind, d.syntax, "Condition must be an object")
    return statements


def load(text: str | bytes, d: Dialect, kind: Kind) -> object:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise fail(kind, d.syntax, "not UTF-8") from None
    if kind == "resource" and not text.lstrip().startswith("{"):
        msg = "Policies must be valid JSON and the first byte must be '{'"
        raise fail(kind, msg, "first byte")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except ValueError as exc:
        raise fail(kind, d.syntax, str(exc)) from None

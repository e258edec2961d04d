"""The Condition element: operators, ``...IfExists``, ``ForAnyValue:`` / ``ForAllValues:``.

Semantics (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Conditions with
multiple context keys or values"):

* several operators in one block -> AND; several keys under one operator -> AND; several values
  for one key -> OR, except that for a *negated* operator (``StringNotEquals``, ``NotIpAddress``,
  ``ArnNotLike``, ...) they are a NOR: a negated operator is exactly NOT(its positive twin).
* "If the key that you specify in a policy condition is not present in the request context, the
  values do not match and the condition is *false*. If the policy condition requires that the key
  is *not* matched, such as ``StringNotLike`` or ``ArnNotLike``, and the right key is not
  present, the condition is *true*." -- except ``...IfExists`` ("If the key is not present,
  evaluate the condition element as true") and ``Null`` (true = "the key doesn't exist").
* ``ForAllValues:`` is true when every request value matches (and "also returns true if there
  are no context keys in the request"); ``ForAnyValue:`` when at least one does (false when the
  key is absent). With a negated operator, "matches" means the negated test per value: e.g.
  ``ForAllValues:StringNotLike`` holds when no request value is like any policy value.
* Policy variables work with the String, ARN and Bool operators only.

Results are three-valued: None means a policy variable could not be resolved, which makes the
statement not apply ("any attempt to match it fails and causes the statement to be invalid").
"""

from __future__ import annotations

import base64
import binascii
import calendar
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from iam.patterns import Context, Mode, Pattern, VariableSyntaxError, compile_pattern

Family = Literal["string", "numeric", "date", "bool", "ip", "arn", "binary", "null"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Value = Pattern | float | Network | bytes | bool
Qualifier = Literal["", "ForAnyValue", "ForAllValues"]

_CMP: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    family: Family
    negated: bool
    mode: Mode | None = None  # string/arn/bool: how values are compiled
    compare: str = "Equals"  # numeric/date


def _operators() -> dict[str, OperatorSpec]:
    ops: dict[str, OperatorSpec] = {
        "StringEquals": OperatorSpec("string", False, "exact"),
        "StringNotEquals": OperatorSpec("string", True, "exact"),
        "StringEqualsIgnoreCase": OperatorSpec("string", False, "exact_ci"),
        "StringNotEqualsIgnoreCase": OperatorSpec("string", True, "exact_ci"),
        "StringLike": OperatorSpec("string", False, "glob"),
        "StringNotLike": OperatorSpec("string", True, "glob"),
        "Bool": OperatorSpec("bool", False, "exact_ci"),
        "BinaryEquals": OperatorSpec("binary", False),
        "IpAddress": OperatorSpec("ip", False),
        "NotIpAddress": OperatorSpec("ip", True),
        "ArnEquals": OperatorSpec("arn", False, "arn_strict"),
        "ArnLike": OperatorSpec("arn", False, "arn_strict"),
        "ArnNotEquals": OperatorSpec("arn", True, "arn_strict"),
        "ArnNotLike": OperatorSpec("arn", True, "arn_strict"),
        "Null": OperatorSpec("null", False),
    }
    for cmp in _CMP:
        ops["Numeric" + cmp] = OperatorSpec("numeric", False, None, cmp)
        ops["Date" + cmp] = OperatorSpec("date", False, None, cmp)
    ops["NumericNotEquals"] = OperatorSpec("numeric", True, None, "Equals")
    ops["DateNotEquals"] = OperatorSpec("date", True, None, "Equals")
    return ops


OPERATORS: dict[str, OperatorSpec] = _operators()


class ConditionError(ValueError):
    """A Condition block AWS would reject; ``reason`` picks the AWS message."""

    def __init__(self, reason: Literal["operator", "key", "value", "legacy"], detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- value parsing

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_ISO = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$",
    re.IGNORECASE,
)


def parse_number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text.strip()) else None


def parse_date(text: str) -> float | None:
    """Seconds since the epoch from a W3C ISO 8601 date/time or an epoch number.

    Like AWS's legacy parser, a value containing "t" or "-" is a date, anything else epoch time.
    """
    text = text.strip()
    if "t" not in text.lower() and "-" not in text:
        return parse_number(text)
    m = _ISO.match(text)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    fields = (int(month or 1), int(day or 1), int(hh or 0), int(mm or 0), int(ss or 0))
    if not (1 <= fields[0] <= 12 and 1 <= fields[1] <= 31 and fields[2] <= 23):
        return None
    if fields[3] > 59 or fields[4] > 59:
        return None
    seconds = float(calendar.timegm((int(year), *fields, 0, 0, 0)))
    if frac:
        seconds += float("0." + frac)
    if tz and tz.upper() != "Z":
        sign = -1 if tz[0] == "+" else 1  # +02:00 is two hours *ahead* of UTC
        digits = tz[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    return seconds


def parse_network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConditionError("value", f"condition values must be strings, not {value!r}")


# ---------------------------------------------------------------- one condition


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # e.g. "StringLike"
    spec: OperatorSpec
    qualifier: Qualifier
    if_exists: bool
    key: str  # lower-cased (condition key names are case-insensitive)
    values: tuple[Value, ...]

    def evaluate(self, ctx: Context) -> bool | None:
        raw = ctx.get(self.key)
        present = raw is not None and raw != []
        if self.spec.family == "null":
            return any(v == (not present) for v in self.values)
        if raw is None or raw == []:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.spec.negated
        items = raw if isinstance(raw, list) else [raw]
        if self.qualifier == "":
            hit = _any3(self._positive(item, ctx) for item in items)
            return _not3(hit) if self.spec.negated else hit
        results = (self._single(item, ctx) for item in items)
        return _all3(results) if self.qualifier == "ForAllValues" else _any3(results)

    def _single(self, item: str, ctx: Context) -> bool | None:
        hit = self._positive(item, ctx)
        return _not3(hit) if self.spec.negated else hit

    def _positive(self, item: str, ctx: Context) -> bool | None:
        """Does the request value match any policy value (the operator's positive sense)?"""
        family = self.spec.family
        if family in ("string", "arn", "bool"):
            return _any3(v.matches(item, ctx) for v in self.values if isinstance(v, Pattern))
        if family in ("numeric", "date"):
            got = parse_number(item) if family == "numeric" else parse_date(item)
            if got is None:
                return False
            cmp = _CMP[self.spec.compare]
            return any(cmp(got, v) for v in self.values if isinstance(v, float))
        if family == "ip":
            addr = _address(item)
            if addr is None:
                return False
            return any(addr in v for v in self.values if isinstance(v, Network))
        try:  # binary
            got_bytes = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            return False
        return any(got_bytes == v for v in self.values if isinstance(v, bytes))


@lru_cache(maxsize=1024)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _any3(results: Iterable[bool | None]) -> bool | None:
    unknown = False
    for r in results:
        if r is True:
            return True
        if r is None:
            unknown = True
    return None if unknown else False


def _all3(results: Iterable[bool | None]) -> bool | None:
    unknown = False
    for r in results:
        if r is False:
            return False
        if r is None:
            unknown = True
    return None if unknown else True


def _not3(value: bool | None) -> bool | None:
    return None if value is None else not value


def evaluate_all(conditions: Sequence[Condition], ctx: Context) -> bool | None:
    """AND over a statement's conditions (three-valued)."""
    unknown = False
    for condition in conditions:
        result = condition.evaluate(ctx)
        if result is False:
            return False
        if result is None:
            unknown = True
    return None if unknown else True


# ---------------------------------------------------------------- parsing


def split_operator(operator: str) -> tuple[Qualifier, str, bool]:
    qualifier: Qualifier = ""
    name = operator
    if name.startswith("ForAnyValue:"):
        qualifier, name = "ForAnyValue", name[len("ForAnyValue:") :]
    elif name.startswith("ForAllValues:"):
        qualifier, name = "ForAllValues", name[len("ForAllValues:") :]
    if_exists = name.endswith("IfExists") and name != "IfExists"
    if if_exists:
        name = name[: -len("IfExists")]
    return qualifier, name, if_exists


def _compile_value(spec: OperatorSpec, text: str, variables: bool) -> Value:
    family = spec.family
    if family in ("string", "arn", "bool"):
        assert spec.mode is not None
        try:
            return compile_pattern(text, spec.mode, variables=variables)
        except VariableSyntaxError as exc:
            raise ConditionError("value", str(exc)) from None
    if family == "numeric":
        number = parse_number(text)
        if number is None:
            raise ConditionError("value", f"{text!r} is not a number")
        return number
    if family == "date":
        date = parse_date(text)
        if date is None:
            raise ConditionError("legacy", f"{text!r} is not an ISO 8601 date or epoch time")
        return date
    if family == "ip":
        network = parse_network(text)
        if network is None:
            raise ConditionError("value", f"{text!r} is not an IP address or CIDR block")
        return network
    if family == "binary":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ConditionError("value", f"{text!r} is not base64") from None
    return text.strip().lower() == "true"  # Null


def parse_conditions(block: object, *, variables: bool) -> tuple[Condition, ...]:
    """``{operator: {key: value | [values]}}`` -> conditions; raises ConditionError."""
    if not isinstance(block, dict):
        raise ConditionError("value", "Condition must be an object")
    out: list[Condition] = []
    for operator, keys in block.items():
        qualifier, base, if_exists = split_operator(operator)
        spec = OPERATORS.get(base)
        if spec is None or (base == "Null" and (if_exists or qualifier)):
            raise ConditionError("operator", operator)
        if not isinstance(keys, dict):
            raise ConditionError("value", f"{operator} must map condition keys to values")
        for key, raw in keys.items():
            if ":" not in key or key.startswith(":") or key.endswith(":"):
                raise ConditionError("key", key)
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise ConditionError("value", f"{operator} {key} has no values")
            values = tuple(_compile_value(spec, _scalar(v), variables) for v in items)
            out.append(Condition(operator, base, spec, qualifier, if_exists, key.lower(), values))
    return tuple(out)

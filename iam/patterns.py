"""Wildcard patterns and policy variables, compiled once at parse time.

* ``*`` / ``?`` wildcards (IAM User Guide, "IAM JSON policy elements: Resource", *Using wildcards
  in resource ARNs*): in an ARN, a wildcard stays inside its colon-delimited segment, except that a
  ``*`` that ends a segment "can expand to match beyond colon boundaries"; everything after the
  fifth colon (the resource part) is one segment. ``ArnLike`` conditions check "each of the six
  colon-delimited components ... separately" (no expansion). ``StringLike`` has no segments.
* Policy variables (IAM User Guide, "IAM policy elements: Variables and tags"): ``${key}``,
  ``${key, 'default'}`` and the fixed ``${*}``, ``${?}``, ``${$}``; key names are
  case-insensitive; only for ``"Version": "2012-10-17"`` (older versions treat them literally).
  A variable whose key is absent (or multi-valued) and has no default does not resolve: "any
  attempt to match it fails". A substituted value is matched literally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Mode = Literal["glob", "arn", "arn_strict", "exact", "exact_ci"]
Context = dict[str, str | list[str]]
"""Request context with lower-cased keys."""


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lower-cased
    default: str | None


@dataclass(frozen=True, slots=True)
class Lit:
    text: str  # a literal piece ("${*}" -> "*"), never a wildcard


Part = str | Var | Lit

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^\s,']+)\s*,\s*'((?:[^']|'')*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


class VariableSyntaxError(ValueError):
    pass


def split_template(text: str, variables: bool) -> tuple[Part, ...]:
    """Split a policy string into glob text, literals and variables."""
    if not variables or "${" not in text:
        return (text,)
    parts: list[Part] = []
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        body = m.group(1)
        if body in _SPECIAL:
            parts.append(Lit(_SPECIAL[body]))
        elif (d := _DEFAULT.match(body)) is not None:
            parts.append(Var(d.group(1).lower(), d.group(2).replace("''", "'")))
        elif body.strip() and not any(c.isspace() or c in ",'" for c in body.strip()):
            parts.append(Var(body.strip().lower(), None))
        else:
            raise VariableSyntaxError(f"invalid policy variable ${{{body}}}")
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def _glob_piece(text: str, mode: Mode, segment: int) -> tuple[str, int]:
    """Regex for glob text starting in ARN ``segment``; returns (regex, segment after)."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        last = segment >= 5 or mode == "glob"
        if ch == "*":
            ends_segment = i + 1 == n or text[i + 1] == ":"
            out.append(".*" if last or (mode == "arn" and ends_segment) else "[^:]*")
        elif ch == "?":
            out.append("." if last else "[^:]")
        else:
            if ch == ":":
                segment += 1
            out.append(re.escape(ch))
    return "".join(out), segment


@lru_cache(maxsize=4096)
def _compile(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def lookup(ctx: Context, var: Var) -> str | None:
    value = ctx.get(var.key)
    if isinstance(value, list):  # multi-valued keys can't be variables
        value = value[0] if len(value) == 1 else None
    return value if value is not None else var.default


def _regex_pieces(parts: tuple[Part, ...], mode: Mode) -> tuple[str | Var, ...]:
    """Regex text for the fixed parts; variables stay to be filled in per request.

    ARN segments are counted over the fixed text only: variables belong in the resource part
    ("only in the resource portion of the ARN ... after the fifth colon").
    """
    out: list[str | Var] = []
    segment = 0
    for part in parts:
        if isinstance(part, str):
            piece, segment = _glob_piece(part, mode, segment)
            out.append(piece)
        elif isinstance(part, Lit):
            out.append(re.escape(part.text))
        else:
            out.append(part)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One policy string compiled for a matching mode; ``matches`` takes the request context."""

    raw: str
    parts: tuple[Part, ...]
    mode: Mode
    ignore_case: bool
    static: re.Pattern[str] | None  # compiled already when the pattern has no variables
    plain: str | None  # set when a plain string comparison suffices
    pieces: tuple[str | Var, ...] = ()  # regex pieces and variables (patterns with variables)

    def resolve(self, ctx: Context) -> str | None:
        """The literal string after substitution (exact modes), or None if unresolvable."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, Lit):
                out.append(part.text)
            else:
                value = lookup(ctx, part)
                if value is None:
                    return None
                out.append(value)
        return "".join(out)

    def regex(self, ctx: Context) -> re.Pattern[str] | None:
        if self.static is not None:
            return self.static
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value = lookup(ctx, piece)
            if value is None:
                return None
            out.append(re.escape(value))
        return _compile("".join(out), self.ignore_case)

    def matches(self, value: str, ctx: Context) -> bool | None:
        """Whether ``value`` matches; None when a policy variable could not be resolved."""
        if self.plain is not None:
            return value.lower() == self.plain if self.ignore_case else value == self.plain
        if self.mode in ("exact", "exact_ci"):
            resolved = self.resolve(ctx)
            if resolved is None:
                return None
            if self.ignore_case:
                return value.lower() == resolved.lower()
            return value == resolved
        compiled = self.regex(ctx)
        if compiled is None:
            return None
        return compiled.fullmatch(value) is not None


def compile_pattern(
    text: str, mode: Mode, *, variables: bool, ignore_case: bool = False
) -> Pattern:
    parts = split_template(text, variables)
    ignore_case = ignore_case or mode == "exact_ci"
    exact = mode in ("exact", "exact_ci")
    if not any(isinstance(p, Var) for p in parts):
        if exact or (len(parts) == 1 and not any(c in text for c in "*?")):
            resolved = Pattern(text, parts, mode, ignore_case, None, None).resolve({}) or ""
            plain = resolved.lower() if ignore_case else resolved
            return Pattern(text, parts, mode, ignore_case, None, plain)
        regex = "".join(p for p in _regex_pieces(parts, mode) if isinstance(p, str))
        return Pattern(text, parts, mode, ignore_case, _compile(regex, ignore_case), None)
    return Pattern(text, parts, mode, ignore_case, None, None, _regex_pieces(parts, mode))


def glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """One-off wildcard match (no variables, no segments)."""
    regex, _ = _glob_piece(pattern, "glob", 0)
    return _compile(regex, ignore_case).fullmatch(value) is not None

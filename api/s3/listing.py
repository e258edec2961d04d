"""Key listings with S3's delimiter semantics over the ordered ``objects`` read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from projections import queries
from projections.db import Database

TOP = chr(0x10FFFF)
"""Sorts after every key: a cursor at ``prefix + TOP`` skips everything under the prefix."""


@dataclass
class Page:
    contents: list[dict[str, Any]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""
    """The last key or common prefix returned: where the next page starts after."""


Fetch = Callable[[tuple[str, str], int], Awaitable[list[dict[str, Any]]]]
"""Rows in key order after a (key, tiebreak) cursor; ``limit`` + 1 of them at most, as the
read-model queries answer (one more than asked: whether more follow)."""


@dataclass
class RolledUp:
    rows: list[dict[str, Any]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: tuple[str, str] = ("", "")
    """The cursor of the last row or common prefix returned (a prefix's tiebreak is empty)."""


async def roll_up(
    fetch: Fetch,
    *,
    prefix: str,
    delimiter: str,
    after: tuple[str, str],
    limit: int,
    tiebreak: Callable[[dict[str, Any]], str] = lambda row: "",
) -> RolledUp:
    """S3's delimiter semantics over an ordered listing: rows whose key goes on past ``prefix`` to
    a ``delimiter`` roll up into one common prefix each; rows and prefixes together count
    against ``limit``. Starts after the cursor ``after``; a cursor inside a rolled-up prefix
    continues after the whole prefix. ``tiebreak`` orders rows of one key (upload ids)."""
    out = RolledUp()
    if limit <= 0:
        return out
    cursor = after
    if delimiter and cursor[0].startswith(prefix):
        cut = cursor[0].find(delimiter, len(prefix))
        if cut >= 0:
            cursor = (cursor[0][: cut + len(delimiter)] + TOP, TOP)
    batch = min(limit + 1, 1000)
    while True:
        rows = await fetch(cursor, batch)
        jumped = False
        for row in rows:
            if len(out.rows) + len(out.prefixes) >= limit:
                out.truncated = True
                return out
            key = row["key"]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                out.prefixes.append(common)
                out.last = (common, "")
                cursor = (common + TOP, TOP)  # skip everything under it
                jumped = True
                break
            out.rows.append(row)
            out.last = cursor = (key, tiebreak(row))
        if not jumped and len(rows) <= batch:
            return out


async def walk(
    db: Database, bucket: str, *, prefix: str, delimiter: str, start_after: str, max_keys: int
) -> Page:
    """Up to ``max_keys`` keys and common prefixes, in order, after ``start_after``."""

    async def fetch(cursor: tuple[str, str], limit: int) -> list[dict[str, Any]]:
        return await queries.list_objects(
            db, bucket, prefix=prefix, start_after=cursor[0], limit=limit
        )

    got = await roll_up(
        fetch, prefix=prefix, delimiter=delimiter, after=(start_after, ""), limit=max_keys
    )
    return Page(contents=got.rows, prefixes=got.prefixes, truncated=got.truncated, last=got.last[0])

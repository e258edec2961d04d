"""Key listings with S3's delimiter semantics over the ordered ``objects`` read model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from projections import queries
from projections.db import Database

_TOP = chr(0x10FFFF)


@dataclass
class Page:
    contents: list[dict[str, Any]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""
    """The last key or common prefix returned: where the next page starts after."""


async def walk(
    db: Database, bucket: str, *, prefix: str, delimiter: str, start_after: str, max_keys: int
) -> Page:
    """Up to ``max_keys`` keys and common prefixes, in order, after ``start_after``."""
    page = Page()
    if max_keys == 0:
        return page
    cursor = start_after
    if delimiter and cursor.startswith(prefix):
        # a marker inside a rolled-up prefix: continue after the whole prefix
        cut = cursor.find(delimiter, len(prefix))
        if cut >= 0:
            cursor = cursor[: cut + len(delimiter)] + _TOP
    batch = min(max_keys + 1, 1000)
    while True:
        rows = await queries.list_objects(
            db, bucket, prefix=prefix, start_after=cursor, limit=batch
        )
        jumped = False
        for row in rows:
            if page_full(page, max_keys):
                page.truncated = True
                return page
            key = row["key"]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                page.prefixes.append(common)
                page.last = common
                cursor = common + _TOP  # skip everything under it
                jumped = True
                break
            page.contents.append(row)
            page.last = cursor = key
        if not jumped and len(rows) <= batch:
            return page


def page_full(page: Page, max_keys: int) -> bool:
    return len(page.contents) + len(page.prefixes) >= max_keys

"""What a projection is (design.md section 5): a name, the event types it reads, its tables and
``apply``. The runner owns transactions and checkpoints; a projection only writes its rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from bus.log import Stored
from projections.db import Tx


class Projection:
    """Subclasses set the class attributes and implement ``apply``; those with a faster set-based
    path override ``apply_batch`` too (it must equal applying the events one by one)."""

    name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    """Bumped when the tables change shape: a read model of another version is rebuilt."""
    event_types: ClassVar[frozenset[str]]
    ddl: ClassVar[Sequence[str]]
    tables: ClassVar[dict[str, Sequence[str]]]
    """Every table this projection owns -> its primary key columns (for reset and comparison)."""

    async def apply(self, stored: Stored, tx: Tx) -> None:
        raise NotImplementedError

    async def apply_batch(self, events: Sequence[Stored], tx: Tx) -> None:
        for stored in events:
            await self.apply(stored, tx)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def iso(at: datetime) -> str:
    """One text form for instants in every backend: UTC, microseconds, ``Z``; sorts as time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(value: Any) -> str:
    # Sorted keys make the stored text canonical, so replayed rows compare equal to live ones.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def from_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def outcome(stored: Stored) -> dict[str, Any] | None:
    """What an event says about the command that caused it (None when no command did)."""
    env = stored.envelope
    if env.causation_id is None:
        return None
    rejected = env.type.endswith(".CommandRejected")
    return {
        "command_id": str(env.causation_id),
        "seq": stored.seq,
        "type": env.type,
        "ok": not rejected,
        "code": getattr(env.data, "code", None) if rejected else None,
        "message": getattr(env.data, "message", None) if rejected else None,
    }

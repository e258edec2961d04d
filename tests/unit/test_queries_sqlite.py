"""The database layer and query helpers on a real SQLite file (no log needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest

from bus.errors import NotFoundInLog
from bus.log import Bus, Stored
from events import Envelope, new_id
from events.s3 import BucketCreated, CommandRejected
from projections import all_projections
from projections.base import iso, outcome
from projections.db import Database, IntegrityError, OperationalError, _sqlite_sql, open_database
from projections.queries import prefix_end
from projections.runner import Projector


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'sub' / 'unit.db'}")
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE t (k TEXT COLLATE BINARY PRIMARY KEY, v BIGINT)")
    yield database
    await database.close()


def test_placeholders_become_numbered_sqlite_parameters() -> None:
    sql = "SELECT * FROM t WHERE a = $2 AND b = $1 AND c = $2 ORDER BY a FOR UPDATE"
    assert _sqlite_sql(sql) == "SELECT * FROM t WHERE a = ?2 AND b = ?1 AND c = ?2 ORDER BY a"


async def test_reordered_and_repeated_parameters_bind_by_number(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (v, k) VALUES ($2, $1)", "a", 1)
    sql = "SELECT count(*) FROM t WHERE k = $1 AND v = $2 AND k = $1"
    assert await db.fetchval(sql, "a", 1) == 1


async def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.executemany("INSERT INTO t (k, v) VALUES ($1, $2)", [("x", 1), ("y", 2)])
            await tx.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "x", 3)
    assert await db.fetch("SELECT k FROM t") == []
    async with db.transaction() as tx:  # the writer is usable again
        await tx.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "z", 9)
    assert await db.fetchrow("SELECT k, v FROM t") == {"k": "z", "v": 9}


async def test_readers_cannot_write(db: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        await db.fetch("INSERT INTO t (k, v) VALUES ('r', 1)")


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("a/", "a0"),
        ("a", "b"),
        ("\u00e9", "\u00ea"),
        ("x\U0010ffff", "y"),
        ("\U0010ffff\U0010ffff", None),
        ("\ud7ff", "\ue000"),
    ],
)
def test_prefix_end_is_the_least_bound_above_the_prefix(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


def test_iso_is_utc_with_microseconds() -> None:
    at = datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=timezone(timedelta(hours=2)))
    assert iso(at) == "2024-05-06T05:08:09.120000Z"


def test_outcome_tells_success_from_rejection() -> None:
    command = new_id()
    made = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a", causation_id=command)
    no = Envelope.wrap(
        CommandRejected(command="s3.CreateBucket", code="BucketAlreadyExists", message="m"),
        actor="a",
        causation_id=command,
    )
    assert outcome(Stored(3, "evt.x", made)) == {
        "command_id": str(command),
        "seq": 3,
        "type": "s3.BucketCreated",
        "ok": True,
        "code": None,
        "message": None,
    }
    rejected = outcome(Stored(4, "evt.x", no))
    assert rejected is not None
    assert (rejected["ok"], rejected["code"], rejected["message"]) == (
        False,
        "BucketAlreadyExists",
        "m",
    )
    uncaused = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a")
    assert outcome(Stored(5, "evt.x", uncaused)) is None


class LogWithHoles:
    """Just ``Bus.get`` over a log whose sequences ``holes`` were removed."""

    def __init__(self, holes: set[int]) -> None:
        self.holes = holes

    async def get(self, seq: int) -> Stored:
        if seq in self.holes:
            raise NotFoundInLog(str(seq))
        return Stored(seq, "evt.x", Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a"))


@pytest.mark.parametrize(
    ("seqs", "read_to", "holes", "usable"),
    [
        ((5, 6, 8), 4, set(), 2),  # 7 was lost on the way: apply 5, 6 and read again
        ((5, 6, 8), 4, {7}, 3),  # 7 is not in the log either: nothing lost
        ((5, 6, 8), 3, set(), 0),  # 4 was lost before the batch
        ((6, 7), 3, {4, 5}, 2),
        ((6, 7), 3, {5}, 0),  # 4 exists: the reader lost it
    ],
)
async def test_runner_applies_a_batch_only_up_to_a_lost_event(
    seqs: tuple[int, ...], read_to: int, holes: set[int], usable: int
) -> None:
    env = Envelope.wrap(BucketCreated(bucket="b", owner="o"), actor="a")
    projector = Projector(cast(Bus, LogWithHoles(holes)), cast(Database, None), all_projections())
    batch = [Stored(seq, "evt.x", env) for seq in seqs]
    assert await projector._usable(batch, read_to) == usable

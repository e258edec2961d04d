"""The scrubber: re-reads every replica of every live blob and repairs what is missing or corrupt.

Bit rot, a file deleted by hand, a disk swapped for an empty one: a replica can go bad long
after its write was verified, and readers only check the digests of small blobs before they send
them (see api/transfer.py), so big corrupt replicas are found here. For each live blob in the
objects read model, every configured sidecar's copy is hashed and compared with the recorded
SHA-256 (a multipart object's parts are blobs of their own, each with its digest). A corrupt copy
is first taken out of readers' way, then replaced by a verified copy of a healthy replica (or of
the chunks still in the log); a copy on a sidecar the read model did not list is recorded
(``s3.ReplicaAdded``) through ``record``, so readers may use it.

It runs periodically in the s3 handler process (``MYCLOUD_SCRUB_INTERVAL``) and on demand as
``mycloud scrub``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from projections import queries
from projections.db import Database
from storage.base import Sidecar
from storage.integrity import Source, Verdict, check, discard_aside, replica_source, restore
from storage.integrity import set_aside as take_aside
from storage.replicas import read_order

log = structlog.get_logger("scrubber")

Recorder = Callable[[str, str], Awaitable[bool]]
"""Records that a sidecar holds a verified copy of a blob: (blob id, sidecar) -> recorded."""
STATE_DDL = "CREATE TABLE IF NOT EXISTS scrubber_runs (name TEXT PRIMARY KEY, finished_at BIGINT)"


@dataclass
class Finding:
    blob_id: str
    sidecar: str
    verdict: str
    repaired: bool


@dataclass
class ScrubReport:
    blobs: int = 0
    checked: int = 0
    """Replicas hashed (blobs times reachable sidecars)."""
    missing: int = 0
    corrupt: int = 0
    repaired: int = 0
    unrepairable: int = 0
    unreachable: int = 0
    """Replicas not checked: their sidecar failed to answer."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Every replica is there and intact now (after repairs)."""
        return self.missing + self.corrupt == self.repaired and not self.unreachable


class Scrubber:
    def __init__(
        self,
        db: Database,
        sidecars: Sequence[Sidecar],
        *,
        repair: bool = True,
        record: Recorder | None = None,
        log_source: Callable[[str], Source] | None = None,
        batch: int = 200,
    ) -> None:
        self.db = db
        self.sidecars = {s.name: s for s in sidecars}
        self.repair = repair
        self.record = record
        self.log_source = log_source
        self.batch = batch

    async def scrub(self) -> ScrubReport:
        report = ScrubReport()
        after = ""
        while True:
            rows = await queries.live_blobs(self.db, after=after, limit=self.batch)
            for row in rows:
                await self.scrub_blob(row, report)
            if len(rows) < self.batch:
                return report
            after = rows[-1]["blob_id"]

    async def scrub_blob(self, row: dict[str, Any], report: ScrubReport) -> None:
        blob_id, sha256, recorded = row["blob_id"], row["sha256"], row["replicas"]
        names = list(self.sidecars)
        verdicts = dict(
            zip(
                names,
                await asyncio.gather(*(check(self.sidecars[n], blob_id, sha256) for n in names)),
                strict=True,
            )
        )
        report.blobs += 1
        report.unreachable += sum(v is Verdict.UNREACHABLE for v in verdicts.values())
        report.checked += sum(v is not Verdict.UNREACHABLE for v in verdicts.values())
        good = [n for n in read_order(recorded, self.sidecars) if verdicts[n] is Verdict.OK]
        good += [n for n in names if verdicts[n] is Verdict.OK and n not in good]
        bad = [n for n in names if verdicts[n] in (Verdict.MISSING, Verdict.CORRUPT)]
        if self.repair and self.record:
            for name in good:
                if name not in recorded:  # a straggling write that landed, never recorded
                    await self.record(blob_id, name)
        if not bad:
            return
        if await queries.get_blob(self.db, blob_id) is None:
            return  # deleted since it was listed (and maybe reclaimed): nothing to repair
        for name in bad:
            verdict = verdicts[name]
            if verdict is Verdict.MISSING:
                report.missing += 1
            else:
                report.corrupt += 1
            repaired = self.repair and await self._repair(name, row, verdict, good)
            if repaired:
                report.repaired += 1
            elif self.repair:
                report.unrepairable += 1
            log.warning(
                "scrub.bad_replica",
                blob_id=blob_id,
                sidecar=name,
                verdict=verdict.value,
                repaired=repaired,
            )
            report.findings.append(Finding(blob_id, name, verdict.value, repaired))

    async def _repair(
        self, name: str, row: dict[str, Any], verdict: Verdict, good: list[str]
    ) -> bool:
        target, blob_id = self.sidecars[name], row["blob_id"]
        if verdict is Verdict.CORRUPT:
            await take_aside(target, blob_id)  # from now on readers use another replica
        sources = [replica_source(self.sidecars[n], blob_id) for n in good]
        if self.log_source is not None:
            sources.append(self.log_source(blob_id))
        if not await restore(target, blob_id, row["sha256"], sources):
            return False
        if verdict is Verdict.CORRUPT:
            await discard_aside(target, blob_id)
        if name not in row["replicas"] and self.record is not None:
            await self.record(blob_id, name)
        return True

    async def run(self, stop: asyncio.Event, every: float) -> None:
        """Scrub every ``every`` seconds, counted from the last finished scrub (remembered in the
        database, so restarting the process does not restart the clock)."""
        async with self.db.transaction() as tx:
            await tx.execute(STATE_DDL)
        while not stop.is_set():
            last = await self.db.fetchval(
                "SELECT finished_at FROM scrubber_runs WHERE name = 'scrub'"
            )
            if last is None:  # a new installation: start the clock rather than read every byte
                await self._finished()
                last = time.time()
            wait = float(last) + every - time.time()
            if wait <= 0:
                try:
                    report = await self.scrub()
                    log.info(
                        "scrub.finished",
                        **{k: v for k, v in vars(report).items() if k != "findings"},
                    )
                    await self._finished()
                except Exception:
                    log.exception("scrub.failed")
                wait = every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _finished(self) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                """INSERT INTO scrubber_runs (name, finished_at) VALUES ('scrub', $1)
                ON CONFLICT (name) DO UPDATE SET finished_at = excluded.finished_at""",
                int(time.time()),
            )

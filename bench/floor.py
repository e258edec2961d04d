"""The durable floor: what MyCloud's durability contract alone allows a PUT on this machine.

A PUT is acknowledged only after (design.md section 4) its command is flushed in the log, its
bytes are flushed on the write quorum of sidecars, and its event is flushed in the log, in that
order: the bytes are stored after the command is durable (the handler decides from the log), and
the event that makes them visible is appended after they are. Whatever MyCloud's own processes
cost on top, a PUT can never be faster than that unavoidable work done by the same nats-server
(our configuration: ``sync_interval: always``) and the same disk with nothing around it:

- **log pair**: one command-sized and one event-sized JetStream append (real encoded envelopes,
  with ``Nats-Msg-Id``) one after the other, from 1 writer and from 16 writers;
- **blob**: one 4 KiB file made durable (write, fsync, rename, directory fsync), one at a time;
- **disk**: one 256 MiB file written and fsynced: a big PUT writes every byte twice (into the
  log's BLOBS stream, then into the blob file), so at most half of this reaches the objects.

``bench/s3bench.py`` measures this in the same run as the peers and sets it against the issue's
targets; ``python bench/floor.py`` prints it alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bus import subjects  # noqa: E402
from bus.log import Bus  # noqa: E402
from bus.server import NatsServer  # noqa: E402
from events.envelope import Envelope, encode  # noqa: E402
from events.s3 import ObjectPut, PutObject  # noqa: E402

MiB = 1024 * 1024
HIGH = 16


@dataclass
class Floor:
    log_c1: float
    """(command, event) append pairs per second, one writer."""
    log_c16: float
    """The same with 16 writers."""
    blob_ms: float
    """One 4 KiB blob made durable, one at a time."""
    disk_mib_s: float
    """Sequential write of one big file with its fsync."""
    command_bytes: int
    event_bytes: int

    @property
    def put4k_c1(self) -> float:
        """PUT 4 KiB at c=1: command, blob and event flushed in series."""
        return 1.0 / (1.0 / self.log_c1 + self.blob_ms / 1e3)

    @property
    def put4k_c16(self) -> float:
        """PUT 4 KiB at c=16: the two appends alone (the blobs' flushes left out, as if free)."""
        return self.log_c16

    @property
    def put64m(self) -> float:
        """PUT 64 MiB (MiB/s): every byte written and flushed twice on one disk."""
        return self.disk_mib_s / 2


def _messages() -> tuple[bytes, bytes]:
    body = os.urandom(4096)
    command = Envelope.wrap(
        PutObject(
            bucket="bench",
            key="k" * 24,
            blob_id=os.urandom(16).hex(),
            size=len(body),
            md5=hashlib.md5(body, usedforsecurity=False).hexdigest(),
            sha256=hashlib.sha256(body).hexdigest(),
            inline=body,
        ),
        actor="arn:aws:iam::000000000000:root",
    )
    event = Envelope.wrap(
        ObjectPut(
            bucket="bench",
            key="k" * 24,
            blob_id=os.urandom(16).hex(),
            size=len(body),
            etag=hashlib.md5(body, usedforsecurity=False).hexdigest(),
            sha256=hashlib.sha256(body).hexdigest(),
            content_type="application/octet-stream",
            replicas=["disk"],
        ),
        actor="arn:aws:iam::000000000000:root",
        causation_id=command.id,
    )
    return encode(command), encode(event)


async def _log_pairs(url: str, writers: int, seconds: float) -> float:
    bus = await Bus.connect(url, name="floor")
    try:
        await bus.ensure_streams()  # exactly MyCloud's stream settings
        js = bus.js
        command, event = _messages()
        done = 0
        stop = time.monotonic() + seconds

        async def writer(w: int) -> None:
            nonlocal done
            i = 0
            while time.monotonic() < stop:
                await js.publish(
                    subjects.command("s3", "PutObject"),
                    command,
                    headers={"Nats-Msg-Id": f"c{w}-{i}-{stop}"},
                )
                await js.publish(
                    f"evt.s3.bucket.bench.object.{w:04d}{i:028d}",
                    event,
                    headers={"Nats-Msg-Id": f"e{w}-{i}-{stop}"},
                )
                i += 1
                done += 1

        began = time.monotonic()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        return done / (time.monotonic() - began)
    finally:
        await bus.close()


def _blob_ms(directory: Path, count: int) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    data = os.urandom(4096)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        began = time.perf_counter()
        for i in range(count):
            tmp, final = directory / f"{i}.tmp", directory / f"{i}.blob"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            os.fsync(dfd)
        return (time.perf_counter() - began) / count * 1e3
    finally:
        os.close(dfd)


def _disk_mib_s(path: Path, size: int) -> float:
    piece = os.urandom(4 * MiB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        began = time.perf_counter()
        for _ in range(size // len(piece)):
            os.write(fd, piece)
        os.fsync(fd)
        elapsed = time.perf_counter() - began
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return size / MiB / elapsed


def measure(workdir: Path, *, seconds: float = 4.0, big: int = 256 * MiB) -> Floor:
    """Measure the floor in ``workdir`` (the filesystem MyCloud's data would live on)."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = NatsServer(directory=workdir / "nats").start()
    try:
        command, event = _messages()
        log_c1 = asyncio.run(_log_pairs(server.url, 1, seconds))
        log_c16 = asyncio.run(_log_pairs(server.url, HIGH, seconds))
    finally:
        server.stop()
    blob_ms = _blob_ms(workdir / "blobs", 300)
    disk = _disk_mib_s(workdir / "big.bin", big)
    return Floor(log_c1, log_c16, blob_ms, disk, len(command), len(event))


def describe(floor: Floor) -> list[str]:
    return [
        f"- log pair (a {floor.command_bytes:,}-byte command and a {floor.event_bytes:,}-byte "
        f"event appended in turn, nats-server with `sync_interval: always`): "
        f"{floor.log_c1:,.0f}/s from 1 writer ({1e3 / floor.log_c1:.2f} ms each), "
        f"{floor.log_c16:,.0f}/s from {HIGH} writers",
        f"- blob (4 KiB file: write, fsync, rename, directory fsync): {floor.blob_ms:.2f} ms",
        f"- disk (one 256 MiB file written, then fsynced): {floor.disk_mib_s:,.0f} MiB/s",
    ]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="mycloud-floor-"))
    try:
        floor = measure(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(describe(floor)))
    print(
        f"=> PUT 4 KiB c=1 at most {floor.put4k_c1:,.0f}/s; c=16 at most "
        f"{floor.put4k_c16:,.0f}/s; PUT 64 MiB at most {floor.put64m:,.0f} MiB/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

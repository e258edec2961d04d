"""Several API processes serve the two ports from sockets `mycloud up` opened and keeps: each
serves, a write through one is read through another at once, one dying (kill -9) refuses no
new connection (its sockets stay open for its successor), and a port already taken fails
`mycloud up` at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("workers") / "data", args=("--api-workers", "2"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0


def _worker_pids(stack: Stack) -> list[int]:
    return [stack.pid("api"), stack.pid("api-2")]


def _listeners(pid: int) -> int:
    """Listening TCP sockets the process holds (two ports: the native API and S3)."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:  # the process is gone
        return 0
    for fd in fds:
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                listening += 1
    return listening


def test_every_worker_accepts_from_both_ports(workers: Stack) -> None:
    pids = _worker_pids(workers)
    assert len(set(pids)) == 2 and all(_alive(p) for p in pids)
    assert [_listeners(p) for p in pids] == [2, 2]


def test_a_write_through_one_connection_is_read_through_fresh_ones(workers: Stack) -> None:
    s3 = workers.boto3()
    bucket = f"w-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    for i in range(30):
        body = os.urandom(1000 + i)
        workers.boto3().put_object(Bucket=bucket, Key=f"k{i}", Body=body)
        # A new client, a new connection: the kernel may hand it to the other worker.
        got = workers.boto3().get_object(Bucket=bucket, Key=f"k{i}")["Body"].read()
        assert got == body


def test_a_killed_worker_leaves_the_others_serving_and_is_restarted(workers: Stack) -> None:
    s3 = workers.boto3()
    bucket = f"k-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    victim = workers.pid("api-2")
    workers.kill9("api-2")
    # The dead worker's sockets stay open in the supervisor: connections the kernel hands them
    # wait in their queue for the restarted worker instead of being refused.
    for i in range(20):  # fresh connections, all answered by the surviving worker or the new one
        with urllib.request.urlopen(f"{workers.url}/healthz", timeout=5) as r:
            assert r.status == 200
        workers.boto3().put_object(Bucket=bucket, Key=f"after-{i}", Body=b"x" * i)
    deadline = time.monotonic() + 30
    while workers.pid("api-2") == victim or not _listeners(workers.pid("api-2")):
        assert time.monotonic() < deadline, "the killed worker was not restarted"
        time.sleep(0.2)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert sorted(keys) == sorted(f"after-{i}" for i in range(20))


def test_a_second_stack_on_the_same_ports_is_refused(workers: Stack, tmp_path: Path) -> None:
    other = subprocess.run(
        [
            sys.executable,
            "-m",
            "mycloud.cli",
            "up",
            "--data-dir",
            str(tmp_path / "other"),
            "--port",
            str(workers.port),
            "--aws-port",
            str(workers.aws_port),
            "--api-workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert other.returncode == 2
    assert f"error: cannot listen on 127.0.0.1:{workers.port}: Address already in use" in (
        other.stdout
    )
    with urllib.request.urlopen(f"{workers.url}/healthz", timeout=5) as r:
        assert r.status == 200  # the first stack is untouched


def test_metrics_from_any_worker_cover_every_worker(workers: Stack) -> None:
    """A scrape reaches one worker; it answers with every worker's counters, by worker."""
    for _ in range(40):  # fresh connections: both workers serve some
        with urllib.request.urlopen(f"{workers.url}/healthz", timeout=5) as r:
            assert r.status == 200
    for _ in range(3):
        with urllib.request.urlopen(f"{workers.url}/metrics", timeout=5) as r:
            text = r.read().decode()
        healthz: dict[str, int] = {}
        for line in text.splitlines():
            if line.startswith("mycloud_http_requests_total{") and 'route="/healthz"' in line:
                worker = line.split('worker="', 1)[1].split('"', 1)[0]
                healthz[worker] = healthz.get(worker, 0) + int(line.rsplit(" ", 1)[1])
        assert sorted(w.rsplit("/", 1)[1] for w in healthz) == ["api", "api-2"], text
        assert sum(healthz.values()) >= 40

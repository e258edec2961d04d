"""One typed settings object for every process, from ``MYCLOUD_*`` environment variables.

The defaults run everything embedded under one data directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYCLOUD_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".mycloud")
    """Everything the embedded stack keeps: NATS store, projections, blobs, credentials."""
    nats_url: str | None = None
    """An external NATS server or cluster (comma-separated URLs); unset: the embedded one."""
    database_url: str | None = None
    """``postgresql://...`` or ``sqlite:///path``; unset: SQLite under the data directory."""
    host: str = "127.0.0.1"
    """Address the HTTP API listens on."""
    port: int = 9080
    """Port of the native JSON API."""
    aws_port: int = 9000
    """Port of the AWS-compatible endpoint (S3 REST today; IAM, STS, ... later)."""
    s3_domain: str = "localhost"
    """Virtual-hosted-style requests address ``<bucket>.<s3_domain>``."""
    sidecars: list[str] = Field(default_factory=list)
    """Storage targets as ``name=kind:location`` (e.g. ``disk1=disk:/srv/blobs``); unset: one
    disk sidecar under the data directory."""
    write_quorum: int | None = None
    """How many sidecars must hold the bytes before a PUT succeeds; unset: all of them. The others
    catch up in the background (the s3 handler's replicator)."""
    scrub_interval: float = 3600.0
    """Seconds between two scrubs (every replica re-read and verified, bad ones repaired) by the
    s3 handler; 0 turns the periodic scrub off (``mycloud scrub`` still works)."""
    request_timeout: float = 30.0
    """How long the API waits for a command's outcome before answering 503 with its id."""
    inline_max: int = 256 * 1024
    """Objects up to this size travel inside the command itself."""
    chunk_size: int = 4 * 1024 * 1024
    """Size of the blob chunks larger objects are cut into on the log."""
    max_object_size: int = 5 * 1024**4
    """Largest object a single PUT accepts (5 TiB, as S3)."""
    stream_replicas: int = 1
    """JetStream replicas for every stream: 1 embedded, 3 in a cluster."""
    api_workers: int = 0
    """API processes serving the two ports (``mycloud up`` opens one listening socket per worker
    and port with SO_REUSEPORT, so the kernel spreads connections evenly); 0: one per two CPUs
    (the other half is left to NATS, the handlers and the projector), at least 1, at most 4.
    One Python process serves on one core only."""
    api_worker: str = "api"
    """This API process's name among the workers (set by ``mycloud up``: api, api-2, ...)."""
    api_sockets: str = ""
    """Set by ``mycloud up`` for each API worker: its inherited listening sockets' descriptors
    (native API, then S3). Unset, ``mycloud api`` opens the ports itself."""
    handler_concurrency: int = 64
    """Commands one handler process works on at once."""
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'projections.db'}"

    @property
    def effective_api_workers(self) -> int:
        return (
            self.api_workers if self.api_workers > 0 else max(1, min((os.cpu_count() or 1) // 2, 4))
        )

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def effective_sidecars(self) -> list[str]:
        return self.sidecars or [f"disk=disk:{self.data_dir / 'blobs'}"]

    @property
    def effective_write_quorum(self) -> int:
        n = len(self.effective_sidecars)
        return min(self.write_quorum or n, n)

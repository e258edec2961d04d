"""Processes starting together share one master key, and a role that fails always exits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mycloud.vault import Vault

ROOT = Path(__file__).resolve().parents[2]


def test_workers_starting_together_all_open_the_same_master_key(tmp_path: Path) -> None:
    # Eight processes race to create the key; each encrypts with what it opened.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from mycloud.vault import Vault
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
        print(Vault.open(Path(sys.argv[2])).encrypt("secret", "ctx"))
        """
    )
    for round_ in range(3):
        data = tmp_path / f"d{round_}"
        start = str(time.time() + 0.5)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, start, str(data)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        results = [p.communicate(timeout=30) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in results]
        vault = Vault.open(data)  # whoever created it, everyone got this very key
        assert {vault.decrypt(out.strip(), "ctx") for out, _ in results} == {"secret"}
        assert sorted(p.name for p in data.iterdir()) == ["master.key"]  # no temporary left
        assert (data / "master.key").stat().st_mode & 0o777 == 0o600


def test_a_role_that_fails_exits_even_with_a_thread_left_running() -> None:
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        sys.path.insert(0, {str(ROOT)!r})
        from mycloud import roles

        async def role(settings, stop):
            threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon
            raise RuntimeError("cannot start")

        roles.main(role, None)
        """
    )
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "RuntimeError: cannot start" in done.stderr
    assert time.monotonic() - began < 30

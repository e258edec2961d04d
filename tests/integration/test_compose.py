"""docker-compose.yml and deploy/nats/nats.conf: shape, real validation, a real run with Docker.

No Docker engine is needed for most of this:
- the compose file is parsed (PyYAML when importable, else the compose venv's PyYAML, else a tiny
  parser for the subset of YAML the file uses) and checked for what the roles need;
- docker-compose 1.29.2 from its own venv (``scripts/check-compose.sh`` installs it) validates it;
- the NATS config is loaded by the local nats-server binary and its effective settings read back.
Only ``test_nats_image_runs_with_our_config`` needs an engine; it skips quickly when none answers.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus.server import MAX_PAYLOAD, NatsServerNotFound, free_port, nats_server_binary, wait_for_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
NATS_CONF = REPO / "deploy" / "nats" / "nats.conf"

SERVICES = {"nats", "postgres", "projector", "handler-s3", "api"}
ROLES = ("projector", "handler-s3", "api")
NATS_URL = "nats://nats:4222"
DATABASE_URL = "postgresql://mycloud:mycloud@postgres:5432/mycloud"
COMMANDS = {
    "projector": ["projector"],
    "handler-s3": ["handler", "s3"],
    "api": ["api", "--host", "0.0.0.0", "--port", "9080"],
}


def compose_venv() -> Path:
    """Where scripts/check-compose.sh keeps docker-compose 1.29.2 (same env var and default)."""
    env = os.environ.get("MYCLOUD_COMPOSE_VENV")
    return Path(env) if env else Path.home() / ".cache" / "mycloud" / "compose-venv"


# ---------------------------------------------------------------- parsing


def _real_yaml(path: Path) -> dict[str, Any] | None:
    """The file parsed by PyYAML: in-process if importable, else with the compose venv's Python."""
    try:
        import yaml
    except ImportError:
        python = compose_venv() / "bin" / "python"
        if not python.exists():
            return None
        code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
        out = subprocess.run(
            [str(python), "-c", code, str(path)], capture_output=True, text=True, timeout=30
        )
        if out.returncode != 0:
            pytest.fail(f"PyYAML (compose venv) cannot parse {path.name}: {out.stderr.strip()}")
        return json.loads(out.stdout)
    with path.open() as f:
        return yaml.safe_load(f)


def _scalar(text: str) -> Any:
    text = re.sub(r"\s+#.*$", "", text).strip()
    if text.startswith("["):
        return json.loads(text)  # flow lists in this file are JSON-compatible
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def tiny_parse(text: str) -> dict[str, Any]:
    """Just enough YAML for docker-compose.yml: block mappings and block lists nested by
    indentation, plain or quoted scalars, JSON-style flow lists. No anchors, no multi-line text."""
    lines = []
    for raw in text.splitlines():
        body = raw.strip()
        if body and not body.startswith("#"):
            lines.append((len(raw) - len(raw.lstrip(" ")), body))

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(_scalar(lines[i][1][2:]))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            key, _, rest = lines[i][1].partition(":")
            key = str(_scalar(key))
            i += 1
            if rest.strip():
                mapping[key] = _scalar(rest)
            elif i < len(lines) and lines[i][0] > indent:
                mapping[key], i = block(i, lines[i][0])
            else:
                mapping[key] = None
        return mapping, i

    parsed, end = block(0, 0) if lines else ({}, 0)
    assert end == len(lines), f"tiny_parse: cannot read line {lines[end][1]!r}"
    return parsed


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.exists(), "docker-compose.yml is missing at the repo root"
    return _real_yaml(COMPOSE_FILE) or tiny_parse(COMPOSE_FILE.read_text())


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=value list form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


# ---------------------------------------------------------------- shape


def test_compose_declares_the_five_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    assert str(compose.get("version", "3.8")) == "3.8"


def test_roles_run_our_image_with_their_command(compose: dict[str, Any]) -> None:
    for role in ROLES:
        svc = compose["services"][role]
        assert svc.get("build") in (".", {"context": "."}), role
        assert svc["command"] == COMMANDS[role], role
        assert svc["restart"] == "unless-stopped", role


def test_roles_point_at_nats_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role in ROLES:
        env = env_of(services[role])
        assert env["MYCLOUD_NATS_URL"] == NATS_URL, role
        assert env["MYCLOUD_DATABASE_URL"] == DATABASE_URL, role
        assert "nats" in services[role]["depends_on"], role
    # The URLs must match what the services actually are.
    pg_env = env_of(services["postgres"])
    assert (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]) == (
        "mycloud",
        "mycloud",
        "mycloud",
    )
    for role in ("projector", "api"):
        assert "postgres" in services[role]["depends_on"], role


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("nats", "postgres", "api"):
        assert services[name].get("healthcheck"), f"{name} has no healthcheck"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert any("/healthz" in str(part) for part in services["api"]["healthcheck"]["test"])
    for role in ROLES:
        for dep, spec in services[role]["depends_on"].items():
            if dep in ("nats", "postgres"):
                assert spec == {"condition": "service_healthy"}, (role, dep)
    for name in SERVICES:
        assert services[name]["restart"] == "unless-stopped", name


def test_api_and_handler_share_the_blob_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role in ("api", "handler-s3"):
        assert env_of(services[role])["MYCLOUD_DATA_DIR"] == "/data", role
        assert "blobs:/data" in services[role]["volumes"], role
    assert "blobs" in compose["volumes"]
    assert any(str(p).endswith(":9080") for p in services["api"]["ports"])


def test_api_root_credentials_come_from_the_environment(compose: dict[str, Any]) -> None:
    env = env_of(compose["services"]["api"])
    for var in ("MYCLOUD_ROOT_ACCESS_KEY_ID", "MYCLOUD_ROOT_SECRET_ACCESS_KEY"):
        assert re.fullmatch(rf"\$\{{{var}:-[^}}]+\}}", env[var]), env[var]


def test_nats_service_uses_our_config(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    image, _, tag = nats["image"].partition(":")
    assert image == "nats"
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", tag).groups())  # type: ignore[union-attr]
    assert (major, minor) >= (2, 11), tag
    mount = next(v for v in nats["volumes"] if str(v).startswith("./deploy/nats/nats.conf:"))
    target = mount.split(":")[1]
    assert target in nats["command"]
    assert any(str(v).endswith(":/data") for v in nats["volumes"])  # store_dir: /data persisted


def test_nats_config_is_durable_and_takes_big_chunks() -> None:
    text = re.sub(r"#.*", "", NATS_CONF.read_text())
    jetstream = re.search(r"jetstream\s*\{([^}]*)\}", text)
    assert jetstream, "no jetstream block"
    assert re.search(r"^\s*sync_interval\s*:\s*always\s*$", jetstream.group(1), re.M)
    assert re.search(r"^\s*store_dir\s*:\s*\"?/data\"?\s*$", jetstream.group(1), re.M)
    assert re.search(r"^\s*max_payload\s*:\s*8MB\s*$", text, re.M)
    assert re.search(r"^\s*http\s*:\s*\"?[\d.]*:8222\"?\s*$", text, re.M)


def test_tiny_parser_agrees_with_pyyaml() -> None:
    real = _real_yaml(COMPOSE_FILE)
    if real is None:
        pytest.skip("no PyYAML here or in the compose venv to compare with")
    tiny = tiny_parse(COMPOSE_FILE.read_text())
    assert set(tiny["services"]) == set(real["services"])
    assert set(tiny["volumes"]) == set(real["volumes"])
    for name, svc in real["services"].items():
        for key in ("image", "command", "environment", "volumes", "restart"):
            if key in svc:
                got = tiny["services"][name][key]
                want = svc[key]
                if key == "environment":
                    got, want = env_of({key: got}), env_of({key: want})
                assert got == want, (name, key)
        if "depends_on" in svc:
            assert tiny["services"][name]["depends_on"] == svc["depends_on"], name


# ---------------------------------------------------------------- real validation, no engine


def test_nats_config_loads_in_nats_server(tmp_path: Path) -> None:
    """Run the local nats-server on our config (loopback ports, temp store) and read it back."""
    try:
        binary = nats_server_binary()
    except NatsServerNotFound as exc:
        pytest.skip(str(exc))
    port, monitor = free_port(), free_port()
    text = NATS_CONF.read_text()
    for pattern, repl in (
        (r"(?m)^listen:.*$", f'listen: "127.0.0.1:{port}"'),
        (r"(?m)^http:.*$", f'http: "127.0.0.1:{monitor}"'),
        (r"(?m)^(\s*)store_dir:.*$", rf'\1store_dir: "{tmp_path / "js"}"'),
    ):
        text, n = re.subn(pattern, repl, text)
        assert n == 1, f"nats.conf: expected one line matching {pattern}"
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    check = subprocess.run(
        [binary, "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    with open(tmp_path / "nats.log", "wb") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", monitor, 10.0, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=5) as r:
            varz = json.load(r)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true", timeout=5
        ) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(10)
    assert varz["max_payload"] == MAX_PAYLOAD
    assert varz["jetstream"]["config"]["sync_always"] is True


def test_compose_file_validates_with_docker_compose_1_29() -> None:
    binary = compose_venv() / "bin" / "docker-compose"
    if not binary.exists():
        pytest.skip("docker-compose 1.29 not installed: run scripts/check-compose.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    base = [str(binary), "-f", str(COMPOSE_FILE)]
    check = subprocess.run(
        [*base, "config", "-q"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr
    listed = subprocess.run(
        [*base, "config", "--services"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == SERVICES


# ---------------------------------------------------------------- with a Docker engine


def _docker_engine_answers(timeout: float = 5.0) -> str | None:
    """None when a Docker engine answers within ``timeout`` seconds; else why not."""
    cli = shutil.which("docker")
    if cli:
        try:
            out = subprocess.run(
                [cli, "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"`docker version` did not answer within {timeout:.0f}s"
        if out.returncode == 0 and out.stdout.strip():
            return None
        return "`docker version`: " + (out.stderr.strip().splitlines() or ["no server"])[-1]
    # The SDK leaks the socket of a failed connect: keep its ResourceWarning (raised when the
    # traceback is freed) inside the ignore filter, or `filterwarnings = error` makes it an error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import docker

            # An explicit API version: the constructor then opens no connection of its own.
            client = docker.from_env(version="1.41", timeout=int(max(1, timeout)))
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # no SDK, no socket, refused, timed out: all mean "no engine"
            why: str | None = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        else:
            why = None
        gc.collect()
    return why


@pytest.fixture
def nats_container() -> Iterator[str]:
    """The compose file's nats image with our config mounted; yields its client URL."""
    why = _docker_engine_answers()
    if why is not None:
        pytest.skip(f"no Docker engine answers ({why})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from testcontainers.core.container import DockerContainer
        except Exception as exc:
            pytest.skip(f"testcontainers unusable: {exc}")
        compose_text = COMPOSE_FILE.read_text()
        image = re.search(r"^\s*image:\s*(nats:\S+)", compose_text, re.M).group(1)  # type: ignore[union-attr]
        container = (
            DockerContainer(image)
            .with_volume_mapping(str(NATS_CONF), "/etc/nats/nats.conf", "ro")
            .with_command("nats-server --config /etc/nats/nats.conf")
            .with_exposed_ports(4222, 8222)
        )
        container.start()
    try:
        host = container.get_container_host_ip()
        url = f"nats://{host}:{container.get_exposed_port(4222)}"
        monitor = int(container.get_exposed_port(8222))
        wait_for_port(host, monitor, 60.0)
        yield url
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            container.stop()


@pytest.mark.docker
@pytest.mark.timeout(300)
async def test_nats_image_runs_with_our_config(nats_container: str) -> None:
    from bus.log import Bus

    bus = await Bus.connect(nats_container, name="test-compose", retry_for=30.0)
    try:
        assert bus.nc.max_payload == MAX_PAYLOAD
        await bus.ensure_streams()  # what every role does on start
        js = bus.nc.jetstream()
        await js.add_stream(name="COMPOSE_SMOKE", subjects=["compose.smoke"])
        ack = await js.publish("compose.smoke", b"x" * (2 * 1024 * 1024))  # > default 1 MiB
        assert ack.seq == 1
    finally:
        await bus.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

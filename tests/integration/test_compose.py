"""docker-compose.yml, deploy/nats/nats.conf and deploy/traefik/dynamic.yml: shape, real
validation, a real run with Docker.

No Docker engine is needed for most of this:
- the compose file is parsed (PyYAML when importable, else the compose venv's PyYAML, else a tiny
  parser for the subset of YAML the file uses) and checked for what the topology needs: a 3-node
  NATS cluster, PostgreSQL, 3 storage nodes, every role twice, a gateway in front of the api
  replicas;
- docker-compose 1.29.2 from its own venv (``scripts/check-compose.sh`` installs it) validates it;
- the NATS config is loaded by the local nats-server binary: three nodes on loopback form the
  JetStream cluster the compose file describes, and their effective settings are read back.
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
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus.server import (
    MAX_PAYLOAD,
    NatsServerNotFound,
    free_ports,
    nats_server_binary,
    wait_for_port,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
NATS_CONF = REPO / "deploy" / "nats" / "nats.conf"
TRAEFIK_DYNAMIC = REPO / "deploy" / "traefik" / "dynamic.yml"

NATS_NODES = ("nats-1", "nats-2", "nats-3")
STORAGE_NODES = ("storage-1", "storage-2", "storage-3")
COMMANDS = {
    "projector": ["projector"],
    "handler-s3": ["handler", "s3"],
    "handler-iam": ["handler", "iam"],
    "api": ["api", "--host", "0.0.0.0", "--port", "9080"],
}
# every role twice: any one replica may die and the other carries on
ROLES = {f"{role}-{i}": role for role in COMMANDS for i in (1, 2)}
SERVICES = {*NATS_NODES, "postgres", *STORAGE_NODES, *ROLES, "gateway"}
NATS_URL = ",".join(f"nats://{n}:4222" for n in NATS_NODES)
DATABASE_URL = "postgresql://mycloud:mycloud@postgres:5432/mycloud"


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


def test_compose_declares_the_scaled_out_topology(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    assert str(compose.get("version", "3.8")) == "3.8"


def test_roles_run_our_image_with_their_command(compose: dict[str, Any]) -> None:
    for service, role in ROLES.items():
        svc = compose["services"][service]
        assert svc.get("build") in (".", {"context": "."}), service
        assert svc["command"] == COMMANDS[role], service
        assert svc["restart"] == "unless-stopped", service


def test_roles_point_at_the_nats_cluster_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service, role in ROLES.items():
        env = env_of(services[service])
        assert env["MYCLOUD_NATS_URL"] == NATS_URL, service
        assert env["MYCLOUD_STREAM_REPLICAS"] == "3", service
        assert env["MYCLOUD_DATABASE_URL"] == DATABASE_URL, service
        for node in NATS_NODES:
            assert node in services[service]["depends_on"], (service, node)
        if role in ("projector", "api"):
            assert "postgres" in services[service]["depends_on"], service
    # The URLs must match what the services actually are.
    pg_env = env_of(services["postgres"])
    assert (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]) == (
        "mycloud",
        "mycloud",
        "mycloud",
    )


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*NATS_NODES, "postgres", *STORAGE_NODES, "api-1", "api-2", "gateway"):
        assert services[name].get("healthcheck"), f"{name} has no healthcheck"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in ("api-1", "api-2"):
        assert any("/healthz" in str(part) for part in services[name]["healthcheck"]["test"])
    for service in ROLES:
        for dep, spec in services[service]["depends_on"].items():
            if dep in (*NATS_NODES, "postgres", *STORAGE_NODES):
                assert spec == {"condition": "service_healthy"}, (service, dep)
    for name in SERVICES:
        assert services[name]["restart"] == "unless-stopped", name


def test_roles_keep_bytes_on_the_three_storage_nodes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for node in STORAGE_NODES:
        svc = services[node]
        assert svc["command"][0] == "storage-node", node
        assert f"{node}-data:/data" in svc["volumes"], node  # a volume of its own
        assert f"{node}-data" in compose["volumes"]
        env = env_of(svc)
        assert {"MYCLOUD_NODE_KEY", "MYCLOUD_NODE_SECRET"} <= set(env), node
    for service, role in ROLES.items():
        if role == "handler-iam":
            continue
        env = env_of(services[service])
        sidecars = json.loads(env["MYCLOUD_SIDECARS"])
        hosts = [re.search(r"@([\w-]+):9100$", spec).group(1) for spec in sidecars]  # type: ignore[union-attr]
        assert hosts == list(STORAGE_NODES), service
        assert all(re.match(r"^node\d=node:http://", spec) for spec in sidecars), service
        assert env["MYCLOUD_WRITE_QUORUM"] == "2", service  # one node may be down


def test_api_root_credentials_come_from_the_environment(compose: dict[str, Any]) -> None:
    for name in ("api-1", "api-2"):
        env = env_of(compose["services"][name])
        for var in ("MYCLOUD_ROOT_ACCESS_KEY_ID", "MYCLOUD_ROOT_SECRET_ACCESS_KEY"):
            assert re.fullmatch(rf"\$\{{{var}:-[^}}]+\}}", env[var]), env[var]


def test_api_replicas_share_the_master_key(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api-1", "api-2"):
        assert env_of(services[name])["MYCLOUD_DATA_DIR"] == "/data", name
        assert "api-keys:/data" in services[name]["volumes"], name
        assert not services[name].get("ports"), f"{name} is reached through the gateway only"
    assert "api-keys" in compose["volumes"]


def test_gateway_balances_both_api_replicas(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["image"].startswith("traefik:")
    assert any(str(p).endswith(":9080") for p in gateway["ports"])
    assert any(str(p).endswith(":9000") for p in gateway["ports"])
    assert set(gateway["depends_on"]) == {"api-1", "api-2"}
    mount = next(v for v in gateway["volumes"] if str(v).startswith("./deploy/traefik/"))
    target = mount.split(":")[1]
    assert any(target in str(arg) for arg in gateway["command"])
    assert not any("docker.sock" in str(v) for v in gateway["volumes"])
    import yaml

    routes = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())["http"]
    entrypoints = {
        arg.split("=")[0].split(".")[1]: arg.split("=")[1]
        for arg in gateway["command"]
        if arg.startswith("--entrypoints.")
    }
    for name, port in (("api", "9080"), ("s3", "9000")):
        router = routes["routers"][name]
        assert entrypoints[router["entryPoints"][0]] == f":{port}"
        service = routes["services"][router["service"]]["loadBalancer"]
        assert [s["url"] for s in service["servers"]] == [
            f"http://api-1:{port}",
            f"http://api-2:{port}",
        ]
        assert service["healthCheck"]["path"] == "/healthz"
        assert service.get("passHostHeader", True) is True  # SigV4 signs the Host header


def test_nats_services_use_our_config(compose: dict[str, Any]) -> None:
    for name in NATS_NODES:
        nats = compose["services"][name]
        image, _, tag = nats["image"].partition(":")
        assert image == "nats"
        major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", tag).groups())  # type: ignore[union-attr]
        assert (major, minor) >= (2, 11), tag
        mount = next(v for v in nats["volumes"] if str(v).startswith("./deploy/nats/nats.conf:"))
        target = mount.split(":")[1]
        assert target in nats["command"]
        # JetStream knows its peers by name: unique, and the same on every restart
        assert nats["command"][nats["command"].index("--server_name") + 1] == name
        assert f"{name}-data:/data" in nats["volumes"]  # store_dir: /data, one volume per node


def test_nats_config_is_durable_takes_big_chunks_and_clusters() -> None:
    text = re.sub(r"#.*", "", NATS_CONF.read_text())
    jetstream = re.search(r"jetstream\s*\{([^}]*)\}", text)
    assert jetstream, "no jetstream block"
    assert re.search(r"^\s*sync_interval\s*:\s*always\s*$", jetstream.group(1), re.M)
    assert re.search(r"^\s*store_dir\s*:\s*\"?/data\"?\s*$", jetstream.group(1), re.M)
    assert re.search(r"^\s*max_payload\s*:\s*8MB\s*$", text, re.M)
    assert re.search(r"^\s*http\s*:\s*\"?[\d.]*:8222\"?\s*$", text, re.M)
    cluster = re.search(r"cluster\s*\{(.*)\}", text, re.S)
    assert cluster, "no cluster block"
    routes = re.findall(r"nats-route://([\w-]+):6222", cluster.group(1))
    assert routes == list(NATS_NODES)
    assert re.search(r"^\s*listen\s*:\s*\"?[\d.]*:6222\"?\s*$", cluster.group(1), re.M)


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


def loopback_config(node: str, ports: dict[str, tuple[int, int, int]], store: Path) -> str:
    """nats.conf as ``node`` of the compose cluster would run it, moved onto loopback: the
    compose host names and ports become 127.0.0.1 and free ports, the store a temp dir."""
    client, cluster, monitor = ports[node]
    text = NATS_CONF.read_text()
    for pattern, repl in (
        (r"(?m)^listen:.*$", f'listen: "127.0.0.1:{client}"'),
        (r"(?m)^http:.*$", f'http: "127.0.0.1:{monitor}"'),
        (r"(?m)^(\s*)store_dir:.*$", rf'\1store_dir: "{store}"'),
        (r"(?m)^(\s+)listen:.*:6222\"?$", rf'\1listen: "127.0.0.1:{cluster}"'),
    ):
        text, n = re.subn(pattern, repl, text)
        assert n == 1, f"nats.conf: expected one line matching {pattern}"
    for other, (_, other_cluster, _) in ports.items():
        text, n = re.subn(
            rf"nats-route://{other}:6222", f"nats-route://127.0.0.1:{other_cluster}", text
        )
        assert n == 1, f"nats.conf: no route to {other}"
    return text


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_nats_config_forms_the_jetstream_cluster(tmp_path: Path) -> None:
    """Run three local nats-servers on our config, named as in the compose file, on loopback:
    they route to each other and elect a JetStream meta leader; their settings read back."""
    try:
        binary = nats_server_binary()
    except NatsServerNotFound as exc:
        pytest.skip(str(exc))
    free = iter(free_ports(3 * len(NATS_NODES)))
    ports = {node: (next(free), next(free), next(free)) for node in NATS_NODES}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for node in NATS_NODES:
            conf = tmp_path / f"{node}.conf"
            conf.write_text(loopback_config(node, ports, tmp_path / node))
            argv = [binary, "-c", str(conf), "--server_name", node]  # as the compose command
            check = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr
            with open(tmp_path / f"{node}.log", "wb") as log:
                procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        monitors = {node: f"http://127.0.0.1:{ports[node][2]}" for node in NATS_NODES}
        for node, proc in zip(NATS_NODES, procs, strict=True):
            wait_for_port("127.0.0.1", ports[node][2], 10.0, proc)
        deadline = time.monotonic() + 30
        while True:
            metas = [_json(f"{m}/jsz").get("meta_cluster", {}) for m in monitors.values()]
            if all(meta.get("leader") and meta.get("cluster_size") == 3 for meta in metas):
                break
            assert time.monotonic() < deadline, f"no JetStream cluster formed: {metas}"
            time.sleep(0.2)
        for node, monitor in monitors.items():
            varz = _json(f"{monitor}/varz")
            assert varz["server_name"] == node
            assert varz["max_payload"] == MAX_PAYLOAD
            assert varz["jetstream"]["config"]["sync_always"] is True
            assert _json(f"{monitor}/routez")["num_routes"] >= 2, node
            with urllib.request.urlopen(f"{monitor}/healthz?js-enabled-only=true", timeout=5) as r:
                assert r.status == 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


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
def nats_container(tmp_path: Path) -> Iterator[str]:
    """The compose file's nats image with our config mounted, as a lone node (the cluster block
    removed: its peers are other containers); yields its client URL."""
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
        alone = tmp_path / "nats.conf"
        alone.write_text(re.sub(r"(?ms)^cluster\s*\{.*?^\}", "", NATS_CONF.read_text()))
        alone.chmod(0o644)
        container = (
            DockerContainer(image)
            .with_volume_mapping(str(alone), "/etc/nats/nats.conf", "ro")
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

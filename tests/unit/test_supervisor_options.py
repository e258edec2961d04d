"""`mycloud up` options for cluster mode: which roles, how many NATS nodes, what is refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mycloud.cli import main
from mycloud.settings import Settings
from mycloud.supervisor import ROLES, Supervisor, parse_roles


def test_roles_are_kept_in_start_order() -> None:
    assert parse_roles("api, handler-s3") == ("handler-s3", "api")
    assert parse_roles(",".join(reversed(ROLES))) == ROLES


@pytest.mark.parametrize("text", ["", " , ", "api,web", "nats-server"])
def test_unknown_or_no_roles_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_roles(text)


def test_a_cluster_replicates_three_times_unless_told_otherwise(tmp_path: Path) -> None:
    def replicas(nodes: int = 1, **settings: Any) -> int:
        return Supervisor(Settings(data_dir=tmp_path, **settings), nats_nodes=nodes).replicas

    assert replicas() == 1
    assert replicas(3) == 3
    assert replicas(5) == 3
    three = "nats://a:1,nats://b:1,nats://c:1"
    assert replicas(nats_url=three) == 3
    assert replicas(nats_url="nats://a:1") == 1
    assert replicas(nats_url=three, stream_replicas=1) == 1  # said explicitly: as told
    assert replicas(3, stream_replicas=3) == 3


@pytest.mark.parametrize(
    ("nodes", "url", "layout", "why"),
    [
        (2, None, None, "2-node"),
        (3, "nats://127.0.0.1:1", None, "MYCLOUD_NATS_URL"),
        (3, None, "nats/jetstream", "single-node NATS log"),
        (1, None, "nats-cluster", "--nats-cluster"),
    ],
)
def test_up_refuses_before_starting_anything(
    tmp_path: Path, nodes: int, url: str | None, layout: str | None, why: str
) -> None:
    if layout:
        (tmp_path / layout).mkdir(parents=True)
    out = io.StringIO()
    supervisor = Supervisor(Settings(data_dir=tmp_path, nats_url=url), out=out, nats_nodes=nodes)
    assert supervisor.up() == 2
    assert why in out.getvalue()
    assert not (tmp_path / "run").exists()


def test_up_rejects_unknown_roles_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["up", "--data-dir", str(tmp_path), "--roles", "api,web"])
    assert result.exit_code == 2
    assert "unknown role(s) web" in result.output

"""Per-role NATS identities: the real nats-server refuses what a role may not publish."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from bus.identities import DENY, authorization_block, ensure, load
from bus.server import free_port, nats_server_binary, render_config, wait_for_port


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    users = ensure(tmp_path)
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        render_config(host="127.0.0.1", port=port, store_dir=tmp_path / "js")
        + authorization_block(users)
    )
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, 10, proc)
        yield f"nats://127.0.0.1:{port}", users
    finally:
        proc.terminate()
        proc.wait(10)


async def connect(
    url: str, users: dict[str, dict[str, str]], name: str, errors: list[str] | None = None
) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        url,
        user=name,
        password=users[name]["password"],
        error_cb=on_error,
        max_reconnect_attempts=0,
    )


@pytest.fixture
async def streams(secured: tuple[str, dict[str, dict[str, str]]]) -> AsyncIterator[nats.NATS]:
    url, users = secured
    nc = await connect(url, users, "supervisor")
    js = nc.jetstream()
    for name, subject in (("COMMANDS", "cmd.>"), ("EVENTS", "evt.>"), ("BLOBS", "blob.>")):
        await js.add_stream(StreamConfig(name=name, subjects=[subject]))
    yield nc
    await nc.close()


async def refused(nc: nats.NATS, subject: str) -> bool:
    try:
        await nc.jetstream().publish(subject, b"forged", timeout=1.0)
    except (TimeoutError, nats.errors.TimeoutError):
        return True
    return False


async def test_api_may_publish_commands_but_not_events(
    secured: tuple[str, dict[str, dict[str, str]]], streams: nats.NATS
) -> None:
    url, users = secured
    errors: list[str] = []
    api = await connect(url, users, "api", errors)
    try:
        ack = await api.jetstream().publish("cmd.s3.CreateBucket", b"{}")
        assert ack.stream == "COMMANDS"
        assert await refused(api, "evt.s3.bucket.x.state")
        await asyncio.sleep(0.2)
        assert any("permissions violation" in e.lower() for e in errors), errors
        info = await streams.jetstream().stream_info("EVENTS")
        assert info.state.messages == 0  # nothing forged got in
    finally:
        await api.close()


async def test_handler_may_publish_events_but_not_commands(
    secured: tuple[str, dict[str, dict[str, str]]], streams: nats.NATS
) -> None:
    url, users = secured
    handler = await connect(url, users, "handler")
    try:
        assert (
            await handler.jetstream().publish("evt.s3.bucket.x.state", b"{}")
        ).stream == "EVENTS"
        assert await refused(handler, "cmd.s3.CreateBucket")
    finally:
        await handler.close()


async def test_only_the_supervisor_administers_streams(
    secured: tuple[str, dict[str, dict[str, str]]], streams: nats.NATS
) -> None:
    url, users = secured
    for name in ("api", "handler", "projector", "admin"):
        nc = await connect(url, users, name)
        try:
            jsm = nc.jetstream(timeout=1.0)
            with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
                await jsm.add_stream(StreamConfig(name="EVIL", subjects=["evil.>"]))
            with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
                await jsm.delete_stream("EVENTS")
        finally:
            await nc.close()
    assert (await streams.jetstream().stream_info("EVENTS")).config.name == "EVENTS"


async def test_projector_may_publish_none_of_the_log(
    secured: tuple[str, dict[str, dict[str, str]]], streams: nats.NATS
) -> None:
    url, users = secured
    projector = await connect(url, users, "projector")
    try:
        for subject in ("cmd.s3.X", "evt.s3.x", "blob.abc"):
            assert await refused(projector, subject), subject
        await projector.publish("mycloud.projected", b"{}")  # notifications are its job
    finally:
        await projector.close()


def test_credentials_file_is_private_and_roles_map_to_identities(tmp_path: Path) -> None:
    users = ensure(tmp_path)
    assert set(users) == set(DENY)
    assert (tmp_path / "nats-users.json").stat().st_mode & 0o777 == 0o600
    assert ensure(tmp_path) == users  # stable across restarts
    assert load(tmp_path, "handler-s3") == users["handler"]
    assert load(tmp_path, "handler-iam") == users["handler"]
    assert load(tmp_path, "api") == users["api"]
    assert load(tmp_path, "mycloud-cli") == users["admin"]

"""The HTTP API process: composition, middleware (request id, auth, errors, metrics), health."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from aiohttp import web

from api import routes
from api.auth import authenticate
from api.errors import ApiError, problem
from api.gateway import Gateway
from api.identity import IdentityStore
from api.metrics import COLLECT, Metrics
from api.metrics import render as render_metrics
from api.openapi import spec
from bus.errors import BusUnavailable
from bus.log import Bus
from events.envelope import new_id
from mycloud.heartbeat import Liveness
from mycloud.settings import Settings
from projections.db import Database
from storage import Sidecar

log = structlog.get_logger("api")
GATHER = 0.15
"""Seconds /metrics waits for the other API workers' counters."""
PUBLIC = {"/healthz", "/metrics", "/openapi.json", "/"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Context:
    settings: Settings
    bus: Bus
    db: Database
    gateway: Gateway
    identities: IdentityStore
    sidecars: dict[str, Sidecar]
    liveness: Liveness
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def worker(self) -> str:
        """This API process among all of them: host and worker name (``api``, ``api-2``, ...)."""
        return f"{socket.gethostname()}/{self.settings.api_worker}"

    async def answer_metrics(self) -> None:
        """Let any worker's /metrics collect this one's counters."""

        async def snapshot(_: bytes) -> bytes:
            return orjson.dumps(self.metrics.snapshot(self.worker))

        await self.bus.answer(COLLECT, snapshot)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    c: Context = request.app["ctx"]
    request_id = new_id()
    request["request_id"] = request_id
    started = time.perf_counter()
    route = (
        request.match_info.route.resource.canonical if request.match_info.route.resource else "?"
    )
    status = 500
    try:
        if request.path not in PUBLIC:
            identity = await authenticate(request, c.identities)
            request["identity"] = identity
            request["actor"] = identity.principal
        response = await handler(request)
        status = response.status
    except ApiError as exc:
        status = exc.status
        headers = {"WWW-Authenticate": 'Basic realm="mycloud"'} if exc.status == 401 else {}
        if exc.code in ("ServiceUnavailable", "SlowDown"):
            headers["Retry-After"] = "1"
        response = problem(exc, str(request_id), headers)
    except BusUnavailable as exc:
        status = 503
        response = problem(
            ApiError("ServiceUnavailable", f"The log is unavailable right now: {exc}"),
            str(request_id),
            {"Retry-After": "1"},
        )
    except web.HTTPException as exc:
        status = exc.status
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status, "InvalidRequest")
        response = problem(ApiError(code, exc.reason, resource=request.path), str(request_id))
    except Exception:
        log.exception("api.unhandled", path=request.path, method=request.method)
        response = problem(ApiError("InternalError"), str(request_id))
    response.headers["X-Request-Id"] = str(request_id)
    c.metrics.observe(route, request.method, status, time.perf_counter() - started)
    return response


async def healthz(request: web.Request) -> web.Response:
    c: Context = request.app["ctx"]
    roles = {"api": True, "nats": c.bus.nc.is_connected, **c.liveness.status()}
    ok = all(roles.values())
    body = {
        "status": "ok" if ok else "degraded",
        "roles": roles,
        "checkpoint": c.gateway.checkpoint,
    }
    return web.Response(
        status=200 if ok else 503, body=orjson.dumps(body), content_type="application/json"
    )


async def metrics(request: web.Request) -> web.Response:
    """Every API worker's counters (gathered over NATS; this one's own at least)."""
    c: Context = request.app["ctx"]
    extra = {"mycloud_projection_checkpoint": float(c.gateway.checkpoint)}
    others = [orjson.loads(raw) for raw in await c.bus.gather(COLLECT, b"", timeout=GATHER)]
    snapshots = [*others, c.metrics.snapshot(c.worker)]  # its own, fresh, last: it wins
    return web.Response(text=render_metrics(snapshots, extra), content_type="text/plain")


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(spec()), content_type="application/json")


async def index(request: web.Request) -> web.Response:
    return web.json_response(
        {"service": "mycloud", "openapi": "/openapi.json", "health": "/healthz"}
    )


def build_app(c: Context) -> web.Application:
    # Content-Encoding describes the stored object: bodies must not be decompressed on the way in.
    app = web.Application(
        middlewares=[middleware],
        client_max_size=1024**2,
        handler_args={"auto_decompress": False},
    )
    app["ctx"] = c
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    routes.add_routes(app)
    return app


async def serve(c: Context, host: str, port: int, stop: asyncio.Event) -> None:
    from api.s3.service import build_s3_app

    # Under `mycloud up` the supervisor opened the ports and every API worker accepts from them.
    inherited = [
        socket.socket(fileno=int(fd)) for fd in c.settings.api_sockets.split(",") if fd.strip()
    ]
    runners = []
    for app, p, name in (
        (build_app(c), port, "api"),
        (build_s3_app(c, c.settings.s3_domain), c.settings.aws_port, "aws"),
    ):
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        if inherited:
            site: web.BaseSite = web.SockSite(runner, inherited.pop(0))
        else:
            site = web.TCPSite(runner, host, p, reuse_address=True, backlog=1024)
        await site.start()
        runners.append(runner)
        log.info("api.listening", endpoint=name, url=f"http://{host}:{p}")
    try:
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def required_roles() -> tuple[str, ...]:
    return ("handler-s3", "handler-iam", "projector")


__all__ = ["Any", "Context", "build_app", "required_roles", "serve"]

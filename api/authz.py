"""Authorization: every request's (action, resource) pairs evaluated as AWS does — explicit deny
beats allow beats implicit deny, identity policies (a user's own and its groups') and the
bucket's policy combined. Root may do everything. Denials are recorded in the log for audit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import structlog
from aiohttp import web

from api.errors import ApiError
from api.identity import Identity
from events.iam import ACCOUNT, RecordDenial
from iam.errors import PolicyError
from iam.evaluate import Decision, Request, evaluate
from iam.policy import Policy, parse_policy
from projections import iam_queries, queries

log = structlog.get_logger("api.authz")
Permission = tuple[str, str]


@lru_cache(maxsize=4096)
def _parsed(document: str, kind: str, bucket: str | None) -> Policy | None:
    try:
        return parse_policy(document, kind=kind, bucket=bucket)  # type: ignore[arg-type]
    except PolicyError:
        log.warning("authz.unparsable_policy", kind=kind)
        return None


def context(
    request: web.Request, identity: Identity | None, extra: dict[str, Any]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    ctx: dict[str, Any] = {
        "aws:SourceIp": request.remote or "",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true" if request.secure else "false",
    }
    if identity is not None and not identity.is_root:
        ctx["aws:username"] = identity.principal
        ctx["aws:userid"] = identity.user_id
    ctx.update({k: v for k, v in extra.items() if v is not None})
    return ctx


async def authorize(
    request: web.Request,
    permissions: Sequence[Permission],
    *,
    bucket: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Raise AccessDenied unless every (action, resource) pair is allowed for the caller."""
    identity: Identity | None = request.get("identity")
    if identity is not None and identity.is_root:
        return
    c = request.app["ctx"]
    identity_policies: list[Policy] = []
    if identity is not None:
        for doc in await iam_queries.identity_documents(c.db, identity.principal):
            parsed = _parsed(doc, "identity", None)
            if parsed is not None:
                identity_policies.append(parsed)
    resource_policies: list[Policy] = []
    if bucket is not None:
        row = await queries.get_bucket(c.db, bucket)
        if row is not None and row.get("policy"):
            parsed = _parsed(row["policy"], "resource", bucket)
            if parsed is not None:
                resource_policies.append(parsed)
    ctx = context(request, identity, extra or {})
    for action, resource in permissions:
        decision: Decision = evaluate(
            Request(
                principal_arn=identity.arn if identity else "",
                account=ACCOUNT,
                action=action,
                resource=resource,
                context=ctx,
                anonymous=identity is None,
            ),
            identity_policies,
            resource_policies,
        )
        if not decision.allowed:
            record_denial(request, action, resource, decision.outcome.value)
            raise ApiError("AccessDenied", "Access Denied")


def record_denial(request: web.Request, action: str, resource: str, reason: str) -> None:
    """Denied requests go into the log too (who tried what, from where), without delaying the
    answer: the command is sent in the background."""
    c = request.app["ctx"]
    identity: Identity | None = request.get("identity")
    command = RecordDenial(
        action=action, resource=resource, source_ip=request.remote or "", reason=reason
    )
    actor = identity.principal if identity else "anonymous"

    async def send() -> None:
        from events.envelope import Envelope

        try:
            await c.bus.send_command(
                Envelope.wrap(command, actor=actor, correlation_id=request.get("request_id")),
                "iam",
            )
        except Exception:
            log.warning("authz.denial_not_recorded", action=action)

    task = asyncio.get_running_loop().create_task(send())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()

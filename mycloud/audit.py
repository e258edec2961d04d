"""``mycloud audit``: who did what, when — answered from the event log itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import click

from bus.log import Stored


def describe(stored: Stored) -> dict[str, str]:
    env = stored.envelope
    data = env.data.model_dump()
    target = "/".join(str(data[k]) for k in ("bucket", "key") if data.get(k))
    target = target or next(
        (
            str(data[k])
            for k in ("user_name", "group_name", "policy_name", "name", "resource")
            if data.get(k)
        ),
        "",
    )
    outcome = "denied" if env.type.endswith(("RequestDenied", "CommandRejected")) else "ok"
    detail = str(data.get("code") or data.get("action") or "")
    return {
        "seq": str(stored.seq),
        "at": env.at.isoformat(),
        "actor": env.actor,
        "type": env.type,
        "target": target,
        "outcome": outcome,
        "detail": detail,
    }


def matches(
    row: dict[str, str],
    stored: Stored,
    actor: str | None,
    bucket: str | None,
    since: datetime | None,
) -> bool:
    if actor is not None and row["actor"] != actor:
        return False
    if (
        bucket is not None
        and getattr(stored.envelope.data, "bucket", None) != bucket
        and not (row["target"].startswith(f"arn:aws:s3:::{bucket}"))
    ):
        return False
    return since is None or stored.envelope.at >= since


def lines(rows: Iterator[dict[str, str]]) -> Iterator[str]:
    for r in rows:
        detail = f" ({r['detail']})" if r["detail"] else ""
        yield (
            f"{r['at']}  #{r['seq']}  {r['actor']:<16} {r['type']:<28} {r['target']}"
            f"  {r['outcome']}{detail}"
        )


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value}") from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed

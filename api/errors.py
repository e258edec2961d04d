"""API errors and their one mapping to responses: JSON problem bodies with a stable ``code``."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from events.codes import lookup


class ApiError(Exception):
    def __init__(
        self, code: str, message: str | None = None, *, resource: str = "", **extra: Any
    ) -> None:
        known = lookup(code)
        self.code = code
        self.status = known.status if known.name == code else 500
        self.message = message or known.message
        self.resource = resource
        self.extra = extra
        super().__init__(f"{code}: {self.message}")


def problem(
    error: ApiError, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"https://mycloud.dev/errors/{error.code}",
        "title": error.code,
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "detail": error.message,
        "resource": error.resource,
        "request_id": request_id,
    }
    body.update(error.extra)
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )

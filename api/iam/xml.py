"""IAM/STS Query API response documents (AWS's XML shapes)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def el(name: str, value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def when(value: str | datetime) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return value.replace("+00:00", "Z")


def response(action: str, result: str, request_id: str, ns: str = IAM_NS) -> bytes:
    inner = f"<{action}Result>{result}</{action}Result>" if result is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{ns}">{inner}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def error(code: str, message: str, request_id: str, ns: str = IAM_NS) -> bytes:
    kind = "Receiver" if code in ("InternalError", "ServiceUnavailable") else "Sender"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="{ns}"><Error>'
        f"{el('Type', kind)}{el('Code', code)}{el('Message', message)}</Error>"
        f"{el('RequestId', request_id)}</ErrorResponse>"
    ).encode()


def user(row: dict[str, Any], tag: str = "User") -> str:
    return (
        f"<{tag}>{el('Path', row['path'])}{el('UserName', row['name'])}"
        f"{el('UserId', row['user_id'])}{el('Arn', row['arn'])}"
        f"{el('CreateDate', when(row['created_at']))}</{tag}>"
    )


def members(tag: str, items: Iterable[str], truncated: bool = False) -> str:
    return f"<{tag}>{''.join(items)}</{tag}>{el('IsTruncated', truncated)}"


def access_key(row: dict[str, Any], secret: str | None = None) -> str:
    body = (
        el("UserName", row["user_name"])
        + el("AccessKeyId", row["access_key_id"])
        + el("Status", row["status"])
    )
    if secret is not None:
        body += el("SecretAccessKey", secret)
    return body + el("CreateDate", when(row["created_at"]))


def group(row: dict[str, Any]) -> str:
    return (
        f"<Group>{el('Path', row['path'])}{el('GroupName', row['name'])}"
        f"{el('GroupId', row['group_id'])}{el('Arn', row['arn'])}"
        f"{el('CreateDate', when(row['created_at']))}</Group>"
    )


def policy(row: dict[str, Any]) -> str:
    return (
        f"<Policy>{el('PolicyName', row['name'])}{el('PolicyId', row['policy_id'])}"
        f"{el('Arn', row['arn'])}{el('Path', row['path'])}{el('DefaultVersionId', 'v1')}"
        f"{el('AttachmentCount', row.get('attachments', 0))}{el('IsAttachable', True)}"
        f"{el('CreateDate', when(row['created_at']))}{el('UpdateDate', when(row['created_at']))}"
        "</Policy>"
    )

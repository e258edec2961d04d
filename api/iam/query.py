"""The IAM Query API (``Action=CreateUser&UserName=…``) and STS GetCallerIdentity.

Writes are commands to the iam service, answered once the read models reflect them; reads are
projection queries. Policy documents are validated here before any command is sent, so a bad
document changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from api.authz import authorize
from api.errors import ApiError
from api.gateway import OutcomeTimeout
from api.iam import xml as ix
from api.s3 import sigv4
from events import iam as ev
from events.envelope import Message
from iam.errors import LimitExceeded, PolicyError
from iam.policy import parse_policy
from projections import iam_queries

Op = Callable[[web.Request, dict[str, str]], Awaitable[str | None]]
_ALNUM = string.ascii_uppercase + string.digits


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError("MissingParameter", f"The request must contain the parameter {name}.")
    return value


def validated_policy(document: str, limit: str) -> str:
    try:
        parse_policy(document, kind="identity", limit=limit)  # type: ignore[arg-type]
    except LimitExceeded as exc:
        raise ApiError("LimitExceeded", str(exc)) from None
    except PolicyError as exc:
        raise ApiError("MalformedPolicyDocument", str(exc)) from None
    return document


async def run(request: web.Request, data: Message) -> None:
    gateway = request.app["ctx"].gateway
    try:
        outcome = await gateway.execute(
            data, actor=request["actor"], service="iam", request_id=request["request_id"]
        )
    except OutcomeTimeout as exc:
        raise ApiError(
            "ServiceUnavailable", f"Retry: command {exc.command_id} is pending."
        ) from None
    if not outcome.ok:
        raise ApiError(outcome.code or "InternalError", outcome.message)


def db(request: web.Request) -> Any:
    return request.app["ctx"].db


async def user_row(request: web.Request, name: str) -> dict[str, Any]:
    row = await iam_queries.get_user(db(request), name)
    if row is None:
        raise ApiError("NoSuchEntity", f"The user with name {name} cannot be found.")
    return row


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ev.ACCOUNT}:{kind}/{name}"


# ---------------------------------------------------------------- operations


async def create_user(request: web.Request, p: dict[str, str]) -> str:
    name = required(p, "UserName")
    await run(request, ev.CreateUser(user_name=name, path=p.get("Path", "/")))
    return ix.user(await user_row(request, name))


async def get_user(request: web.Request, p: dict[str, str]) -> str:
    name = p.get("UserName") or request["identity"].user_name
    if name is None:  # root asking about itself
        identity = request["identity"]
        return (
            f"<User>{ix.el('UserId', identity.user_id)}{ix.el('Arn', identity.arn)}"
            f"{ix.el('CreateDate', '2024-01-01T00:00:00Z')}</User>"
        )
    return ix.user(await user_row(request, name))


async def list_users(request: web.Request, p: dict[str, str]) -> str:
    rows = await iam_queries.list_users(db(request))
    return ix.members("Users", (ix.user(r, tag="member") for r in rows))


async def delete_user(request: web.Request, p: dict[str, str]) -> None:
    await run(request, ev.DeleteUser(user_name=required(p, "UserName")))


async def create_access_key(request: web.Request, p: dict[str, str]) -> str:
    name = p.get("UserName") or request["identity"].user_name
    if name is None:
        raise ApiError("ValidationError", "Root access keys are managed with `mycloud` itself.")
    await user_row(request, name)
    key_id = "AKIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    vault = request.app["ctx"].identities.vault
    await run(
        request,
        ev.CreateAccessKey(
            user_name=name, access_key_id=key_id, secret_ciphertext=vault.encrypt(secret, key_id)
        ),
    )
    row = await iam_queries.find_access_key(db(request), key_id)
    assert row is not None
    return f"<AccessKey>{ix.access_key(row, secret)}</AccessKey>"


async def list_access_keys(request: web.Request, p: dict[str, str]) -> str:
    name = p.get("UserName") or request["identity"].user_name or ""
    rows = await iam_queries.list_access_keys(db(request), name)
    return ix.members("AccessKeyMetadata", (f"<member>{ix.access_key(r)}</member>" for r in rows))


async def delete_access_key(request: web.Request, p: dict[str, str]) -> None:
    key_id = required(p, "AccessKeyId")
    name = p.get("UserName") or await _owner_of(request, key_id)
    await run(request, ev.DeleteAccessKey(user_name=name, access_key_id=key_id))


async def update_access_key(request: web.Request, p: dict[str, str]) -> None:
    key_id = required(p, "AccessKeyId")
    status = required(p, "Status")
    if status not in ("Active", "Inactive"):
        raise ApiError("ValidationError", "Status must be Active or Inactive.")
    name = p.get("UserName") or await _owner_of(request, key_id)
    await run(request, ev.UpdateAccessKey(user_name=name, access_key_id=key_id, status=status))  # type: ignore[arg-type]


async def _owner_of(request: web.Request, key_id: str) -> str:
    row = await iam_queries.find_access_key(db(request), key_id)
    if row is None:
        raise ApiError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
    return str(row["user_name"])


async def create_group(request: web.Request, p: dict[str, str]) -> str:
    name = required(p, "GroupName")
    await run(request, ev.CreateGroup(group_name=name, path=p.get("Path", "/")))
    row = await iam_queries.get_group(db(request), name)
    assert row is not None
    return ix.group(row)


async def add_user_to_group(request: web.Request, p: dict[str, str]) -> None:
    await run(
        request,
        ev.AddUserToGroup(group_name=required(p, "GroupName"), user_name=required(p, "UserName")),
    )


async def remove_user_from_group(request: web.Request, p: dict[str, str]) -> None:
    await run(
        request,
        ev.RemoveUserFromGroup(
            group_name=required(p, "GroupName"), user_name=required(p, "UserName")
        ),
    )


async def put_user_policy(request: web.Request, p: dict[str, str]) -> None:
    document = validated_policy(required(p, "PolicyDocument"), "user")
    await run(
        request,
        ev.PutUserPolicy(
            user_name=required(p, "UserName"),
            policy_name=required(p, "PolicyName"),
            document=document,
        ),
    )


async def put_group_policy(request: web.Request, p: dict[str, str]) -> None:
    document = validated_policy(required(p, "PolicyDocument"), "group")
    await run(
        request,
        ev.PutGroupPolicy(
            group_name=required(p, "GroupName"),
            policy_name=required(p, "PolicyName"),
            document=document,
        ),
    )


async def create_policy(request: web.Request, p: dict[str, str]) -> str:
    name = required(p, "PolicyName")
    document = validated_policy(required(p, "PolicyDocument"), "managed")
    path = p.get("Path", "/")
    await run(
        request,
        ev.CreatePolicy(
            policy_name=name, document=document, path=path, description=p.get("Description", "")
        ),
    )
    row = await iam_queries.get_policy(db(request), f"arn:aws:iam::{ev.ACCOUNT}:policy{path}{name}")
    assert row is not None
    return ix.policy(row)


def _attach(target: Literal["user", "group"], attach: bool) -> Op:
    async def op(request: web.Request, p: dict[str, str]) -> None:
        name = required(p, "UserName" if target == "user" else "GroupName")
        await run(
            request,
            ev.AttachPolicy(
                target=target,
                name=name,
                policy_arn=required(p, "PolicyArn"),
                attach=attach,
            ),
        )

    return op


async def list_attached_user_policies(request: web.Request, p: dict[str, str]) -> str:
    rows = await iam_queries.attached(db(request), "user", required(p, "UserName"))
    return ix.members(
        "AttachedPolicies",
        (
            f"<member>{ix.el('PolicyName', r['name'])}{ix.el('PolicyArn', r['arn'])}</member>"
            for r in rows
        ),
    )


async def get_caller_identity(request: web.Request, p: dict[str, str]) -> str:
    identity = request["identity"]
    return (
        f"{ix.el('Arn', identity.arn)}{ix.el('UserId', identity.user_id)}"
        f"{ix.el('Account', ev.ACCOUNT)}"
    )


# (operation, resource kind for the ARN the policy is checked against, parameter naming it)
IAM_OPS: dict[str, tuple[Op, str, str]] = {
    "CreateUser": (create_user, "user", "UserName"),
    "GetUser": (get_user, "user", "UserName"),
    "ListUsers": (list_users, "user", ""),
    "DeleteUser": (delete_user, "user", "UserName"),
    "CreateAccessKey": (create_access_key, "user", "UserName"),
    "ListAccessKeys": (list_access_keys, "user", "UserName"),
    "DeleteAccessKey": (delete_access_key, "user", "UserName"),
    "UpdateAccessKey": (update_access_key, "user", "UserName"),
    "CreateGroup": (create_group, "group", "GroupName"),
    "AddUserToGroup": (add_user_to_group, "group", "GroupName"),
    "RemoveUserFromGroup": (remove_user_from_group, "group", "GroupName"),
    "PutUserPolicy": (put_user_policy, "user", "UserName"),
    "PutGroupPolicy": (put_group_policy, "group", "GroupName"),
    "CreatePolicy": (create_policy, "policy", "PolicyName"),
    "AttachUserPolicy": (_attach("user", True), "user", "UserName"),
    "AttachGroupPolicy": (_attach("group", True), "group", "GroupName"),
    "DetachUserPolicy": (_attach("user", False), "user", "UserName"),
    "ListAttachedUserPolicies": (list_attached_user_policies, "user", "UserName"),
}


async def handle(request: web.Request, service: str) -> web.Response:
    ns = ix.STS_NS if service == "sts" else ix.IAM_NS
    request_id = str(request["request_id"])
    try:
        body = await request.read()
        sigv4.check_payload(request["verified"], hashlib.sha256(body).hexdigest())
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params.update({k: v for k, v in request.query.items() if not k.startswith("X-Amz-")})
        action = params.get("Action", "")
        request["op"] = f"{service}:{action}"
        if service == "sts":
            if action != "GetCallerIdentity":
                raise ApiError("InvalidAction", f"Could not find operation {action}.")
            result: str | None = await get_caller_identity(request, params)
        else:
            entry = IAM_OPS.get(action)
            if entry is None:
                raise ApiError("InvalidAction", f"Could not find operation {action} for IAM.")
            fn, kind, param = entry
            target = params.get(param) or (request["identity"].user_name or "*") if param else "*"
            await authorize(request, [(f"iam:{action}", arn(kind, target))])
            result = await fn(request, params)
    except (ApiError, sigv4.SigV4Error) as exc:
        status = exc.status if isinstance(exc, ApiError) else 403
        return web.Response(
            status=status,
            body=ix.error(exc.code, exc.message, request_id, ns),
            content_type="text/xml",
        )
    return web.Response(
        body=ix.response(action, result, request_id, ns),  # type: ignore[arg-type]
        content_type="text/xml",
    )

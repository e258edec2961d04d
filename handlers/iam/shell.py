"""The iam handler process: fold users, groups, keys and policies from the log and decide."""

from __future__ import annotations

from bus import subjects
from events.envelope import Envelope, Message
from events.iam import (
    AddUserToGroup,
    AttachPolicy,
    CreateAccessKey,
    CreateGroup,
    CreatePolicy,
    CreateUser,
    DeleteAccessKey,
    DeleteUser,
    PutGroupPolicy,
    PutUserPolicy,
    RecordDenial,
    RemoveUserFromGroup,
    RequestDenied,
    UpdateAccessKey,
)
from handlers.base import CommandHandler
from handlers.decision import Append, Decision, Reject
from handlers.iam import decide
from handlers.iam.state import Policy, Principal, fold_key, fold_policy, fold_principal, live_keys


class IamHandler(CommandHandler):
    service = "iam"

    def validate(self, command: Envelope) -> Reject | None:
        return decide.validate(command)

    def rejection(self, command: Envelope, decision: Reject) -> tuple[str, Message]:
        return subjects.IAM_REJECTED, decide.rejection(command, decision)

    async def _principal(self, subject: str) -> Principal:
        return fold_principal(await self.bus.read_subject(subject))

    async def _policy(self, name: str | None) -> Policy:
        if name is None:
            return Policy()
        return fold_policy(await self.bus.read_subject(subjects.iam_policy(name)))

    async def _key_count(self, user: str) -> int:
        return live_keys(
            [s async for s in self.bus.latest_per_subject(subjects.iam_user_keys(user))]
        )

    async def decide(self, command: Envelope) -> Decision:
        data = command.data
        if isinstance(data, RecordDenial):
            event = RequestDenied(
                action=data.action,
                resource=data.resource,
                source_ip=data.source_ip,
                reason=data.reason,
            )
            return Append(subjects.IAM_DENIED, event, None, subjects.IAM_DENIED)
        if isinstance(data, CreateUser):
            return decide.create_user(
                command, await self._principal(subjects.iam_user(data.user_name))
            )
        if isinstance(data, DeleteUser):
            user = await self._principal(subjects.iam_user(data.user_name))
            last = await self.bus.last(subjects.iam_user_all(data.user_name))
            keys = await self._key_count(data.user_name)
            return decide.delete_user(command, user, last.seq if last else 0, keys)
        if isinstance(data, CreateAccessKey):
            user = await self._principal(subjects.iam_user(data.user_name))
            return decide.create_access_key(command, user, await self._key_count(data.user_name))
        if isinstance(data, DeleteAccessKey | UpdateAccessKey):
            key = fold_key(
                await self.bus.read_subject(subjects.iam_key(data.user_name, data.access_key_id))
            )
            return decide.change_key(command, key)
        if isinstance(data, CreateGroup):
            return decide.create_group(
                command, await self._principal(subjects.iam_group(data.group_name))
            )
        if isinstance(data, AddUserToGroup | RemoveUserFromGroup):
            user = await self._principal(subjects.iam_user(data.user_name))
            group = await self._principal(subjects.iam_group(data.group_name))
            return decide.membership(command, user, group)
        if isinstance(data, PutUserPolicy):
            return decide.put_inline_policy(
                command, await self._principal(subjects.iam_user(data.user_name))
            )
        if isinstance(data, PutGroupPolicy):
            return decide.put_inline_policy(
                command, await self._principal(subjects.iam_group(data.group_name))
            )
        if isinstance(data, CreatePolicy):
            return decide.create_policy(command, await self._policy(data.policy_name))
        if isinstance(data, AttachPolicy):
            subject = (
                subjects.iam_user(data.name)
                if data.target == "user"
                else subjects.iam_group(data.name)
            )
            target = await self._principal(subject)
            policy = await self._policy(decide.policy_name_of(data.policy_arn))
            return decide.attach_policy(command, target, policy)
        return Reject("InvalidAction", f"{command.type} is not handled here")

"""Read models of the iam service: users, access keys, groups, policies and attachments."""

from __future__ import annotations

from bus.log import Stored
from events import iam
from events.iam import ACCOUNT
from projections.base import Projection, iso
from projections.db import Tx


class IamProjection(Projection):
    name = "iam"
    event_types = frozenset(
        m.TYPE
        for m in (
            iam.UserCreated,
            iam.UserDeleted,
            iam.AccessKeyCreated,
            iam.AccessKeyDeleted,
            iam.AccessKeyStatusChanged,
            iam.GroupCreated,
            iam.GroupMembershipChanged,
            iam.InlinePolicyPut,
            iam.PolicyCreated,
            iam.PolicyAttachmentChanged,
        )
    )
    tables = {
        "iam_users": ("name",),
        "iam_access_keys": ("access_key_id",),
        "iam_groups": ("name",),
        "iam_group_members": ("group_name", "user_name"),
        "iam_inline_policies": ("target", "name", "policy_name"),
        "iam_policies": ("name",),
        "iam_attachments": ("target", "name", "policy_arn"),
    }
    ddl = (
        """CREATE TABLE IF NOT EXISTS iam_users (
            name TEXT COLLATE BINARY PRIMARY KEY, user_id TEXT NOT NULL, path TEXT NOT NULL,
            arn TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS iam_access_keys (
            access_key_id TEXT COLLATE BINARY PRIMARY KEY, user_name TEXT NOT NULL,
            secret_ciphertext TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS iam_access_keys_by_user ON iam_access_keys (user_name)",
        """CREATE TABLE IF NOT EXISTS iam_groups (
            name TEXT COLLATE BINARY PRIMARY KEY, group_id TEXT NOT NULL, path TEXT NOT NULL,
            arn TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS iam_group_members (
            group_name TEXT COLLATE BINARY NOT NULL, user_name TEXT COLLATE BINARY NOT NULL,
            PRIMARY KEY (group_name, user_name))""",
        """CREATE TABLE IF NOT EXISTS iam_inline_policies (
            target TEXT NOT NULL, name TEXT COLLATE BINARY NOT NULL,
            policy_name TEXT COLLATE BINARY NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (target, name, policy_name))""",
        """CREATE TABLE IF NOT EXISTS iam_policies (
            name TEXT COLLATE BINARY PRIMARY KEY, arn TEXT NOT NULL, policy_id TEXT NOT NULL,
            document TEXT NOT NULL, path TEXT NOT NULL, description TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS iam_attachments (
            target TEXT NOT NULL, name TEXT COLLATE BINARY NOT NULL,
            policy_arn TEXT COLLATE BINARY NOT NULL, PRIMARY KEY (target, name, policy_arn))""",
    )

    async def apply(self, stored: Stored, tx: Tx) -> None:
        data = stored.envelope.data
        at = iso(stored.envelope.at)
        if isinstance(data, iam.UserCreated):
            arn = f"arn:aws:iam::{ACCOUNT}:user{data.path}{data.user_name}"
            await tx.execute(
                """INSERT INTO iam_users (name, user_id, path, arn, created_at)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING""",
                data.user_name,
                data.user_id,
                data.path,
                arn,
                at,
            )
        elif isinstance(data, iam.UserDeleted):
            await tx.execute("DELETE FROM iam_users WHERE name = $1", data.user_name)
        elif isinstance(data, iam.AccessKeyCreated):
            await tx.execute(
                """INSERT INTO iam_access_keys
                    (access_key_id, user_name, secret_ciphertext, status, created_at)
                VALUES ($1, $2, $3, 'Active', $4) ON CONFLICT (access_key_id) DO NOTHING""",
                data.access_key_id,
                data.user_name,
                data.secret_ciphertext,
                at,
            )
        elif isinstance(data, iam.AccessKeyDeleted):
            await tx.execute(
                "DELETE FROM iam_access_keys WHERE access_key_id = $1", data.access_key_id
            )
        elif isinstance(data, iam.AccessKeyStatusChanged):
            await tx.execute(
                "UPDATE iam_access_keys SET status = $2 WHERE access_key_id = $1",
                data.access_key_id,
                data.status,
            )
        elif isinstance(data, iam.GroupCreated):
            arn = f"arn:aws:iam::{ACCOUNT}:group{data.path}{data.group_name}"
            await tx.execute(
                """INSERT INTO iam_groups (name, group_id, path, arn, created_at)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING""",
                data.group_name,
                data.group_id,
                data.path,
                arn,
                at,
            )
        elif isinstance(data, iam.GroupMembershipChanged):
            if data.member:
                await tx.execute(
                    """INSERT INTO iam_group_members (group_name, user_name) VALUES ($1, $2)
                    ON CONFLICT (group_name, user_name) DO NOTHING""",
                    data.group_name,
                    data.user_name,
                )
            else:
                await tx.execute(
                    "DELETE FROM iam_group_members WHERE group_name = $1 AND user_name = $2",
                    data.group_name,
                    data.user_name,
                )
        elif isinstance(data, iam.InlinePolicyPut):
            await tx.execute(
                """INSERT INTO iam_inline_policies (target, name, policy_name, document)
                VALUES ($1, $2, $3, $4) ON CONFLICT (target, name, policy_name)
                DO UPDATE SET document = excluded.document""",
                data.target,
                data.name,
                data.policy_name,
                data.document,
            )
        elif isinstance(data, iam.PolicyCreated):
            await tx.execute(
                """INSERT INTO iam_policies
                    (name, arn, policy_id, document, path, description, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING""",
                data.policy_name,
                data.policy_arn,
                data.policy_id,
                data.document,
                data.path,
                data.description,
                at,
            )
        elif isinstance(data, iam.PolicyAttachmentChanged):
            if data.attached:
                await tx.execute(
                    """INSERT INTO iam_attachments (target, name, policy_arn) VALUES ($1, $2, $3)
                    ON CONFLICT (target, name, policy_arn) DO NOTHING""",
                    data.target,
                    data.name,
                    data.policy_arn,
                )
            else:
                await tx.execute(
                    """DELETE FROM iam_attachments
                    WHERE target = $1 AND name = $2 AND policy_arn = $3""",
                    data.target,
                    data.name,
                    data.policy_arn,
                )

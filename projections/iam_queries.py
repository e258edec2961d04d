"""What the API reads about identities: users, keys, groups and the policies that apply."""

from __future__ import annotations

from projections.db import Reader, Row


async def get_user(db: Reader, name: str) -> Row | None:
    return await db.fetchrow(
        "SELECT name, user_id, path, arn, created_at FROM iam_users WHERE name = $1", name
    )


async def list_users(db: Reader) -> list[Row]:
    return await db.fetch(
        "SELECT name, user_id, path, arn, created_at FROM iam_users ORDER BY name"
    )


async def find_access_key(db: Reader, access_key_id: str) -> Row | None:
    return await db.fetchrow(
        """SELECT access_key_id, user_name, secret_ciphertext, status, created_at
        FROM iam_access_keys WHERE access_key_id = $1""",
        access_key_id,
    )


async def list_access_keys(db: Reader, user: str) -> list[Row]:
    return await db.fetch(
        """SELECT access_key_id, user_name, status, created_at FROM iam_access_keys
        WHERE user_name = $1 ORDER BY access_key_id""",
        user,
    )


async def get_group(db: Reader, name: str) -> Row | None:
    return await db.fetchrow(
        "SELECT name, group_id, path, arn, created_at FROM iam_groups WHERE name = $1", name
    )


async def groups_of(db: Reader, user: str) -> list[str]:
    rows = await db.fetch(
        "SELECT group_name FROM iam_group_members WHERE user_name = $1 ORDER BY group_name", user
    )
    return [r["group_name"] for r in rows]


async def get_policy(db: Reader, arn: str) -> Row | None:
    return await db.fetchrow(
        """SELECT name, arn, policy_id, document, path, description, created_at
        FROM iam_policies WHERE arn = $1""",
        arn,
    )


async def attached(db: Reader, target: str, name: str) -> list[Row]:
    return await db.fetch(
        """SELECT a.policy_arn AS arn, p.name AS name FROM iam_attachments a
        JOIN iam_policies p ON p.arn = a.policy_arn
        WHERE a.target = $1 AND a.name = $2 ORDER BY a.policy_arn""",
        target,
        name,
    )


async def identity_documents(db: Reader, user: str) -> list[str]:
    """Every policy document that applies to a user: its inline and attached policies and those
    of its groups."""
    groups = await groups_of(db, user)
    docs = []
    for target, name in [("user", user), *(("group", g) for g in groups)]:
        rows = await db.fetch(
            """SELECT document FROM iam_inline_policies WHERE target = $1 AND name = $2
            UNION ALL
            SELECT p.document FROM iam_attachments a JOIN iam_policies p ON p.arn = a.policy_arn
            WHERE a.target = $1 AND a.name = $2""",
            target,
            name,
        )
        docs += [r["document"] for r in rows]
    return docs

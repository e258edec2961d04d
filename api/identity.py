"""Who holds an access key: the root key from the credentials file, or an IAM user's key from the
iam read model (secret decrypted with the vault). Looked up on every request, so a deleted or
deactivated key stops working as soon as the command that changed it has answered."""

from __future__ import annotations

from dataclasses import dataclass

from events.iam import ACCOUNT
from mycloud.credentials import AccessKey
from mycloud.vault import Vault, VaultError
from projections import iam_queries
from projections.db import Reader

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"


@dataclass(frozen=True, slots=True)
class Identity:
    access_key_id: str
    secret: str
    principal: str
    """The actor recorded in the log: ``root`` or the IAM user name."""
    arn: str
    user_id: str
    is_root: bool

    @property
    def user_name(self) -> str | None:
        return None if self.is_root else self.principal


class IdentityStore:
    def __init__(self, root: AccessKey, db: Reader, vault: Vault) -> None:
        self.root = root
        self.db = db
        self.vault = vault
        self._plain: dict[tuple[str, str], str] = {}

    async def lookup(self, access_key_id: str) -> Identity | None:
        if access_key_id == self.root.access_key_id:
            return Identity(
                access_key_id, self.root.secret_access_key, "root", ROOT_ARN, ACCOUNT, True
            )
        row = await iam_queries.find_access_key(self.db, access_key_id)
        if row is None or row["status"] != "Active":
            return None
        user = await iam_queries.get_user(self.db, row["user_name"])
        if user is None:
            return None
        cached = (access_key_id, row["secret_ciphertext"])
        secret = self._plain.get(cached)
        if secret is None:
            try:
                secret = self.vault.decrypt(row["secret_ciphertext"], access_key_id)
            except VaultError:
                return None
            if len(self._plain) > 10_000:
                self._plain.clear()
            self._plain[cached] = secret
        return Identity(access_key_id, secret, user["name"], user["arn"], user["user_id"], False)

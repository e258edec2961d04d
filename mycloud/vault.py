"""Encryption at rest for secrets the system must be able to read back (SigV4 needs the
plaintext secret of an access key to recompute signatures, so it cannot be stored hashed).

AES-256-GCM under a master key kept in ``DATA_DIR/master.key`` (mode 0600, created on first use)
or given as ``MYCLOUD_MASTER_KEY`` (base64, for replicas on several machines). The access key id
is bound in as associated data, so a ciphertext cannot be moved to another key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"


class VaultError(Exception):
    pass


class Vault:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise VaultError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def open(cls, data_dir: Path) -> Vault:
        env = os.environ.get("MYCLOUD_MASTER_KEY")
        if env:
            return cls(base64.b64decode(env))
        path = data_dir / "master.key"
        if not path.exists():
            _create_key(path)
        return cls(base64.b64decode(path.read_bytes()))

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        if not token.startswith(PREFIX):
            raise VaultError("unknown ciphertext format")
        raw = base64.b64decode(token[len(PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise VaultError("the secret cannot be decrypted with this master key") from None


def _create_key(path: Path) -> None:
    """Write a new master key, complete and flushed, under a temporary name, then link it into
    place: processes starting together (several api workers) either create it or find it whole,
    never half-written. The first link wins; the others read the winner's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process created it first
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        tmp.unlink(missing_ok=True)

"""The envelope every command and event travels in (design.md section 3).

Payload types register themselves by ``type`` name and schema ``version``. Stored messages of an
older version are upcast step by step on read, so old events stay readable forever.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
M = TypeVar("M", bound="type[Message]")


_RANDOM = bytearray()
_RANDOM_LOCK = threading.Lock()


def _random10() -> bytes:
    """10 bytes from the OS's CSPRNG, read 4 KiB at a time (one syscall per ~400 ids); a forked
    child starts with none, so parent and child never hand out the same bytes."""
    with _RANDOM_LOCK:
        if len(_RANDOM) < 10:
            _RANDOM[:] = os.urandom(4000)
        out = bytes(_RANDOM[-10:])
        del _RANDOM[-10:]
        return out


def _forget_random() -> None:
    global _RANDOM_LOCK
    _RANDOM_LOCK = threading.Lock()  # another thread may have held it at the fork
    _RANDOM.clear()


os.register_at_fork(after_in_child=_forget_random)


def new_id() -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then random bits, so ids sort by creation time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(_random10(), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


class Message(BaseModel):
    """Base of every payload. Subclasses set ``TYPE`` (e.g. ``s3.ObjectPut``) and ``VERSION``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1


class Envelope(BaseModel):
    """One command or event as stored in the log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=new_id)
    """Unique id (UUIDv7); for commands also the JetStream ``Nats-Msg-Id``."""
    type: str
    """Payload type, e.g. ``s3.PutObject`` or ``s3.ObjectPut``."""
    version: int = 1
    """Schema version of the payload as written."""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """When the message was created (UTC)."""
    actor: str
    """The authenticated principal that caused it."""
    correlation_id: uuid.UUID | None = None
    """The request this message belongs to."""
    causation_id: uuid.UUID | None = None
    """For events: the command that caused them."""
    data: SerializeAsAny[Message]
    """The typed payload."""

    @classmethod
    def wrap(
        cls,
        data: Message,
        *,
        actor: str,
        id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
    ) -> Envelope:
        return cls(
            id=id or new_id(),
            type=data.TYPE,
            version=data.VERSION,
            actor=actor,
            correlation_id=correlation_id,
            causation_id=causation_id,
            data=data,
        )

    def caused(self, data: Message) -> Envelope:
        """An event caused by this command, carrying its actor and correlation."""
        return Envelope.wrap(
            data,
            actor=self.actor,
            correlation_id=self.correlation_id or self.id,
            causation_id=self.id,
        )


class Registry:
    """Maps a payload type name to its current model and the upcasters of older versions."""

    def __init__(self) -> None:
        self._models: dict[str, type[Message]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: M) -> M:
        if not model.TYPE:
            raise ValueError(f"{model.__name__} has no TYPE")
        if model.TYPE in self._models and self._models[model.TYPE] is not model:
            raise ValueError(f"duplicate message type {model.TYPE}")
        self._models[model.TYPE] = model
        return model

    def upcaster(self, type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function that turns version ``from_version`` data into the next version."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_, from_version)] = fn
            return fn

        return decorate

    def model(self, type_: str) -> type[Message]:
        try:
            return self._models[type_]
        except KeyError:
            raise UnknownMessageType(type_) from None

    def load(self, type_: str, version: int, data: dict[str, Any]) -> Message:
        model = self.model(type_)
        if version > model.VERSION:
            raise UnknownMessageType(
                f"{type_} v{version} is newer than this build (v{model.VERSION})"
            )
        while version < model.VERSION:
            step = self._upcasters.get((type_, version))
            if step is None:
                raise UnknownMessageType(f"{type_} v{version}: no upcaster to v{version + 1}")
            data = step(data)
            version += 1
        return model.model_validate(data)

    def types(self) -> list[str]:
        return sorted(self._models)


class UnknownMessageType(LookupError):
    """A stored message whose type (or version) this build cannot read."""


registry = Registry()


def encode(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def decode(raw: bytes | str) -> Envelope:
    doc = orjson.loads(raw)
    data = registry.load(doc["type"], int(doc.get("version", 1)), doc["data"])
    return Envelope.model_construct(
        id=uuid.UUID(doc["id"]),
        type=doc["type"],
        version=data.VERSION,
        at=datetime.fromisoformat(doc["at"]),
        actor=doc["actor"],
        correlation_id=uuid.UUID(doc["correlation_id"]) if doc.get("correlation_id") else None,
        causation_id=uuid.UUID(doc["causation_id"]) if doc.get("causation_id") else None,
        data=data,
    )

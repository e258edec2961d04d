"""Message types: the envelope and the typed payloads of every command and event."""

from events import iam, s3
from events.envelope import Envelope, Message, decode, encode, new_id, registry

__all__ = ["Envelope", "Message", "decode", "encode", "iam", "new_id", "registry", "s3"]

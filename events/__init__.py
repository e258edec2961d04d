"""Message types: the envelope and the typed payloads of every command and event."""

from events.envelope import Envelope, Message, decode, encode, new_id, registry
from events import s3  # noqa: E402,I001  (registers the s3 message types)

__all__ = ["Envelope", "Message", "decode", "encode", "new_id", "registry"]

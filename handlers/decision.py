"""What a pure ``decide`` returns: appends guarded by an expected sequence, or a rejection."""

from __future__ import annotations

from dataclasses import dataclass

from events.envelope import Envelope, Message


@dataclass(frozen=True, slots=True)
class Append:
    """Append ``data`` to ``subject`` if ``expect_subject``'s last sequence is ``expect_seq``
    (``expect_seq`` None: no check)."""

    subject: str
    data: Message
    expect_seq: int | None
    expect_subject: str


@dataclass(frozen=True, slots=True)
class Reject:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AlreadyApplied:
    """The command's event is already in the log (a redelivery after a crash)."""

    seq: int


@dataclass(frozen=True, slots=True)
class Appends:
    """Several appends, in order; each is idempotent on its own."""

    steps: tuple[Append, ...]


Decision = Append | Appends | Reject | AlreadyApplied


def caused_by(last: Envelope | None, command: Envelope) -> bool:
    return last is not None and last.causation_id == command.id

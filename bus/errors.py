"""The bus's own error tree; nats errors are translated here, at the boundary."""

from __future__ import annotations


class BusError(Exception):
    """Base of every bus failure."""


class ConcurrencyConflict(BusError):
    """An append's expected last sequence did not hold: someone else decided first."""


class BusUnavailable(BusError):
    """The log did not answer in time (no leader, server down, fail-over in progress)."""


class NotFoundInLog(BusError):
    """No message at that sequence or subject."""

"""MyCloud: a local cloud on an event-sourced NATS JetStream backbone."""

__version__ = "0.1.0"

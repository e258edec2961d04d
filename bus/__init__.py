"""The one door to NATS JetStream."""

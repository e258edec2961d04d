"""S3-compatible REST endpoint: wire formats (XML) and request handling."""

"""IAM policy language: parsing, validation and evaluation as a pure library (no I/O)."""

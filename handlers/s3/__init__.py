"""The s3 service handler: pure decisions (decide.py) in a thin I/O shell (shell.py)."""

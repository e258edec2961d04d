"""Subject names of the log (design.md section 2).

Everything about one bucket lives under ``evt.s3.bucket.<bucket>.``, so one wildcard filter covers
a bucket's lifecycle and all its objects: that is what makes bucket deletion and object writes
safe under optimistic concurrency (see handlers/s3/shell.py).
"""

from __future__ import annotations

import hashlib

COMMANDS_STREAM = "COMMANDS"
EVENTS_STREAM = "EVENTS"
BLOBS_STREAM = "BLOBS"


def command(service: str, name: str) -> str:
    return f"cmd.{service}.{name}"


def bucket_token(bucket: str) -> str:
    """A subject token for a bucket name; ``_`` never occurs in valid names, ``.`` must not."""
    return bucket.replace(".", "_") if bucket else "_"


def key_token(key: str) -> str:
    """Keys hold any UTF-8 (dots, spaces, wildcards), so subjects carry a digest of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def bucket_state(bucket: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.state"


def bucket_all(bucket: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.>"


def bucket_objects(bucket: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.object.*"


def object_(bucket: str, key: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.object.{key_token(key)}"


def bucket_uploads(bucket: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.upload.*.state"


def upload_state(bucket: str, upload_id: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.upload.{upload_id}.state"


def upload_all(bucket: str, upload_id: str) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.upload.{upload_id}.>"


def upload_part(bucket: str, upload_id: str, part_number: int) -> str:
    return f"evt.s3.bucket.{bucket_token(bucket)}.upload.{upload_id}.part.{part_number}"


S3_REJECTED = "evt.s3.rejected"


def iam_token(name: str) -> str:
    """IAM names may hold ``.``; hex keeps subjects valid and names distinct."""
    return name.encode().hex()


def iam_user(name: str) -> str:
    return f"evt.iam.user.{iam_token(name)}.state"


def iam_user_all(name: str) -> str:
    return f"evt.iam.user.{iam_token(name)}.>"


def iam_user_keys(name: str) -> str:
    return f"evt.iam.user.{iam_token(name)}.key.*"


def iam_key(name: str, access_key_id: str) -> str:
    return f"evt.iam.user.{iam_token(name)}.key.{access_key_id}"


def iam_group(name: str) -> str:
    return f"evt.iam.group.{iam_token(name)}.state"


def iam_policy(name: str) -> str:
    return f"evt.iam.policy.{iam_token(name)}.state"


IAM_DENIED = "evt.iam.denied"
IAM_REJECTED = "evt.iam.rejected"


def blob(blob_id: str) -> str:
    return f"blob.{blob_id}"


# Core NATS (not stored): the projector announces each committed batch here.
PROJECTED = "mycloud.projected"

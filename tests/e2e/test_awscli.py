"""The aws cli (``aws s3 mb / cp / ls / sync / rm / rb``) against the stack's S3 endpoint.

The cli runs as a subprocess with its credentials in the environment and empty config files of
its own, so it never reads (or writes) the user's ~/.aws.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.s3_support import MIB, all_keys, pattern, unique
from tests.e2e.stack import Stack


class Cli:
    def __init__(self, stack: Stack, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config").write_text("")
        (home / "credentials").write_text("")
        key, secret = stack.credentials
        self.endpoint = stack.s3_url
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("HTTP_PROXY", "HTTPS_PROXY")
        }
        self.env |= {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(home),
        }

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "awscli", *args, "--endpoint-url", self.endpoint],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


@pytest.fixture(scope="module")
def aws(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(stack, tmp_path_factory.mktemp("aws-home"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def listed(output: str) -> dict[str, int]:
    """``aws s3 ls`` object lines (date time size key) as {key: size}."""
    out = {}
    for line in output.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and fields[2].isdigit():
            out[fields[3]] = int(fields[2])
    return out


def test_mb_cp_ls_rm_rb(aws: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = unique()
    made = aws("s3", "mb", f"s3://{bucket}")
    assert f"make_bucket: {bucket}" in made.stdout
    assert bucket in aws("s3", "ls").stdout
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200

    big = tmp_path / "big.bin"
    big.write_bytes(pattern(20 * MIB + 7, b"awscli"))  # over the 8 MiB multipart threshold
    small = tmp_path / "small.txt"
    small.write_text("hello from the aws cli\n")
    aws("s3", "cp", str(big), f"s3://{bucket}/data/big.bin")
    aws("s3", "cp", str(small), f"s3://{bucket}/data/small.txt", "--content-type", "text/plain")

    head = s3.head_object(Bucket=bucket, Key="data/big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"].endswith('-3"')  # 8 + 8 + 4 MiB parts: a multipart upload
    assert s3.head_object(Bucket=bucket, Key="data/small.txt")["ContentType"] == "text/plain"

    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/data/big.bin", str(back))
    assert sha256(back) == sha256(big)

    assert listed(aws("s3", "ls", f"s3://{bucket}/data/").stdout) == {
        "big.bin": big.stat().st_size,
        "small.txt": small.stat().st_size,
    }
    top = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE data/" in top
    recursive = listed(aws("s3", "ls", f"s3://{bucket}", "--recursive").stdout)
    assert set(recursive) == {"data/big.bin", "data/small.txt"}

    # copy inside the service (CopyObject, multipart copy for the big one)
    aws("s3", "cp", f"s3://{bucket}/data/big.bin", f"s3://{bucket}/copy/big.bin")
    copied = tmp_path / "copied.bin"
    aws("s3", "cp", f"s3://{bucket}/copy/big.bin", str(copied))
    assert sha256(copied) == sha256(big)

    # rb refuses a bucket that still holds objects
    refused = aws("s3", "rb", f"s3://{bucket}", check=False)
    assert refused.returncode != 0 and "BucketNotEmpty" in refused.stderr
    assert len(all_keys(s3, bucket)) == 3

    removed = aws("s3", "rm", f"s3://{bucket}", "--recursive")
    assert removed.stdout.count("delete: ") == 3
    assert all_keys(s3, bucket) == []
    aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout


def test_sync_up_down_and_delete(aws: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = unique()
    aws("s3", "mb", f"s3://{bucket}")
    source = tmp_path / "src"
    files = {
        "a.txt": b"alpha\n",
        "nested/b.bin": pattern(300 * 1024, b"b"),
        "nested/deeper/c with space.txt": b"gamma\n",
        "big/d.bin": pattern(9 * MIB, b"d"),  # multipart inside sync
    }
    for name, data in files.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    up = aws("s3", "sync", str(source), f"s3://{bucket}/tree")
    assert up.stdout.count("upload: ") == len(files)
    assert sorted(all_keys(s3, bucket)) == sorted(f"tree/{n}" for n in files)
    # nothing changed: a second sync transfers nothing
    assert "upload:" not in aws("s3", "sync", str(source), f"s3://{bucket}/tree").stdout

    # a changed file and a new one are uploaded; sizes and times decide, as the cli does
    (source / "a.txt").write_bytes(b"alpha, longer now\n")
    (source / "new.txt").write_bytes(b"new\n")
    again = aws("s3", "sync", str(source), f"s3://{bucket}/tree").stdout
    uploaded = sorted(line.rsplit(" to ", 1)[1] for line in again.splitlines() if "upload:" in line)
    assert uploaded == [f"s3://{bucket}/tree/a.txt", f"s3://{bucket}/tree/new.txt"]

    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/tree", str(down))
    for name in [*files, "new.txt"]:
        assert (down / name).read_bytes() == (source / name).read_bytes(), name

    # --delete removes what the source no longer has
    (source / "nested" / "b.bin").unlink()
    synced = aws("s3", "sync", str(source), f"s3://{bucket}/tree", "--delete").stdout
    assert f"delete: s3://{bucket}/tree/nested/b.bin" in synced
    assert "tree/nested/b.bin" not in all_keys(s3, bucket)

    aws("s3", "rm", f"s3://{bucket}/tree", "--recursive")
    assert all_keys(s3, bucket) == []
    aws("s3", "rb", f"s3://{bucket}")


def test_s3api_commands(aws: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = unique()
    aws("s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "body.txt"
    body.write_text("s3api body\n")
    put = aws(
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "k.txt",
        "--body",
        str(body),
        "--metadata",
        "color=blue",
    )
    assert f'\\"{hashlib.md5(body.read_bytes()).hexdigest()}\\"' in put.stdout
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "k.txt").stdout
    assert '"color": "blue"' in head
    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "nope", check=False)
    assert missing.returncode != 0 and "Not Found" in missing.stderr
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "k.txt")
    aws("s3api", "delete-bucket", "--bucket", bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

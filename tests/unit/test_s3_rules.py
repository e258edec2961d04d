import pytest

from handlers.s3.rules import bucket_name_problem, key_problem


@pytest.mark.parametrize(
    "name",
    ["abc", "my-bucket", "my.bucket.name", "a" * 63, "0bucket9", "bucket-1.example"],
)
def test_valid_bucket_names_are_accepted(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "MyBucket",
        "my_bucket",
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "my.-bucket",
        "my-.bucket",
        "192.168.5.4",
        "xn--bucket",
        "sthree-x",
        "bucket-s3alias",
        "bucket--ol-s3",
        "with space",
        "bücket",
        "",
    ],
)
def test_invalid_bucket_names_are_rejected_with_a_reason(name: str) -> None:
    problem = bucket_name_problem(name)
    assert problem is not None and len(problem) > 10


def test_keys_up_to_1024_utf8_bytes_are_valid() -> None:
    assert key_problem("a" * 1024) is None
    assert key_problem("é" * 512) is None  # 2 bytes each
    assert key_problem("dir/sub dir/ file*?.txt") is None


def test_key_over_1024_bytes_is_too_long() -> None:
    problem = key_problem("a" * 1025)
    assert problem is not None and problem[0] == "KeyTooLongError"
    problem = key_problem("é" * 513)
    assert problem is not None and problem[0] == "KeyTooLongError"


def test_empty_and_nul_keys_are_invalid() -> None:
    assert key_problem("") is not None
    assert key_problem("a\x00b") is not None


def test_lone_surrogate_is_not_utf8() -> None:
    problem = key_problem("bad\udcff")
    assert problem is not None and problem[0] == "InvalidURI"

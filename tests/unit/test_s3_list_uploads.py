"""ListMultipartUploads paging with prefix, delimiter and markers, on a real SQLite read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.s3.uploads import UploadsPage, uploads_page
from projections.db import Database, open_database
from projections.s3 import ObjectsProjection

UPLOADS = [
    ("a.txt", "u1"),
    ("docs/a", "u2"),
    ("docs/b", "u3"),
    ("docs/b", "u4"),
    ("docs/deep/c", "u5"),
    ("img/x", "u6"),
    ("img/y", "u7"),
    ("z.txt", "u8"),
    ("z.txt", "u9"),
]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'uploads.db'}")
    async with database.transaction() as tx:
        for statement in ObjectsProjection.ddl:
            await tx.execute(statement)
        for seq, (key, upload_id) in enumerate(UPLOADS, 1):
            await tx.execute(
                """INSERT INTO uploads (bucket, upload_id, key, initiator, initiated,
                    content_type, metadata, headers, tags, seq)
                VALUES ('b', $1, $2, 'root', '2024-01-01T00:00:00Z', 'x', '{}', '{}', '{}', $3)""",
                upload_id,
                key,
                seq,
            )
        # another bucket's uploads never show
        await tx.execute(
            """INSERT INTO uploads (bucket, upload_id, key, initiator, initiated,
                content_type, metadata, headers, tags, seq)
            VALUES ('other', 'u0', 'docs/a', 'root', '2024-01-01T00:00:00Z', 'x', '{}', '{}',
                '{}', 99)"""
        )
    yield database
    await database.close()


def listed(page: UploadsPage) -> tuple[list[tuple[str, str]], list[str]]:
    return [(r["key"], r["upload_id"]) for r in page.uploads], page.prefixes


async def test_without_delimiter_everything_is_listed_in_key_then_upload_order(
    db: Database,
) -> None:
    page = await uploads_page(db, "b")
    assert listed(page) == (UPLOADS, [])
    assert not page.truncated


async def test_delimiter_rolls_keys_up_into_common_prefixes(db: Database) -> None:
    page = await uploads_page(db, "b", delimiter="/")
    assert listed(page) == (
        [("a.txt", "u1"), ("z.txt", "u8"), ("z.txt", "u9")],
        ["docs/", "img/"],
    )
    assert not page.truncated


async def test_delimiter_applies_after_the_prefix(db: Database) -> None:
    page = await uploads_page(db, "b", prefix="docs/", delimiter="/")
    assert listed(page) == ([("docs/a", "u2"), ("docs/b", "u3"), ("docs/b", "u4")], ["docs/deep/"])
    page = await uploads_page(db, "b", prefix="docs", delimiter="/")
    assert listed(page) == ([], ["docs/"])


async def test_common_prefixes_count_against_max_uploads_and_paging_resumes_after_them(
    db: Database,
) -> None:
    seen: list[tuple[str, str]] = []
    prefixes: list[str] = []
    key_marker = upload_id_marker = ""
    pages = 0
    while True:
        page = await uploads_page(
            db,
            "b",
            delimiter="/",
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=2,
        )
        pages += 1
        assert len(page.uploads) + len(page.prefixes) <= 2
        uploads, rolled = listed(page)
        seen += uploads
        prefixes += rolled
        if not page.truncated:
            break
        key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker
    assert seen == [("a.txt", "u1"), ("z.txt", "u8"), ("z.txt", "u9")]
    assert prefixes == ["docs/", "img/"]
    assert pages == 3


async def test_a_page_ending_on_a_prefix_names_it_as_the_next_key_marker(db: Database) -> None:
    page = await uploads_page(db, "b", delimiter="/", max_uploads=2)
    assert listed(page) == ([("a.txt", "u1")], ["docs/"])
    assert page.truncated
    assert (page.next_key_marker, page.next_upload_id_marker) == ("docs/", "")


async def test_a_page_ending_on_an_upload_names_key_and_upload_id(db: Database) -> None:
    page = await uploads_page(db, "b", max_uploads=3)
    assert page.truncated
    assert (page.next_key_marker, page.next_upload_id_marker) == ("docs/b", "u3")
    rest = await uploads_page(db, "b", key_marker="docs/b", upload_id_marker="u3")
    assert listed(rest)[0] == UPLOADS[3:]


async def test_key_marker_alone_skips_all_uploads_of_that_key(db: Database) -> None:
    page = await uploads_page(db, "b", key_marker="docs/b")
    assert listed(page)[0] == UPLOADS[4:]
    # an upload-id-marker without a key-marker is ignored, as S3 does
    page = await uploads_page(db, "b", upload_id_marker="u5")
    assert listed(page)[0] == UPLOADS


async def test_a_key_marker_inside_a_rolled_up_prefix_skips_the_whole_prefix(
    db: Database,
) -> None:
    page = await uploads_page(db, "b", delimiter="/", key_marker="docs/a")
    assert listed(page) == ([("z.txt", "u8"), ("z.txt", "u9")], ["img/"])


async def test_exactly_full_page_is_not_truncated(db: Database) -> None:
    page = await uploads_page(db, "b", delimiter="/", max_uploads=5)
    assert len(page.uploads) + len(page.prefixes) == 5
    assert not page.truncated


async def test_a_full_page_of_a_thousand_says_whether_more_follow(tmp_path: Path) -> None:
    """max-uploads 1000 is also the read model's batch: the page must still look one further."""
    database = await open_database(f"sqlite:///{tmp_path / 'many.db'}")
    try:
        async with database.transaction() as tx:
            for statement in ObjectsProjection.ddl:
                await tx.execute(statement)
            for i in range(1001):
                await tx.execute(
                    """INSERT INTO uploads (bucket, upload_id, key, initiator, initiated,
                        content_type, metadata, headers, tags, seq)
                    VALUES ('b', $1, $2, 'root', '2024-01-01T00:00:00Z', 'x', '{}', '{}', '{}',
                        $3)""",
                    f"u{i:04d}",
                    f"k{i:04d}",
                    i + 1,
                )
        page = await uploads_page(database, "b", max_uploads=1000)
        assert len(page.uploads) == 1000 and page.truncated
        assert page.next_key_marker == "k0999"
        rest = await uploads_page(
            database,
            "b",
            key_marker=page.next_key_marker,
            upload_id_marker=page.next_upload_id_marker,
        )
        assert listed(rest) == ([("k1000", "u1000")], []) and not rest.truncated
    finally:
        await database.close()

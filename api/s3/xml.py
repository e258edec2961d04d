"""The XML layer of the S3 endpoint: render responses as AWS S3 does, parse bodies strictly.

Callers import everything from here (``from api.s3 import xml as s3xml``). The paginated
listings are rendered in this module; primitives, entry types and the single-shot documents
live in :mod:`api.s3.xml_render`, request-body parsing in :mod:`api.s3.xml_parse`.
Element order in listings follows the samples in the S3 API reference, which show what S3
sends (the "Response Syntax" blocks there are alphabetical, not wire order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from api.s3.xml_parse import (
    CORS_METHODS,
    MALFORMED,
    MAX_BUCKET_TAGS,
    MAX_CORS_RULES,
    MAX_DELETE_OBJECTS,
    MAX_OBJECT_TAGS,
    S3XmlError,
    parse_complete_multipart,
    parse_cors,
    parse_create_bucket,
    parse_delete,
    parse_tagging,
    parse_versioning,
)
from api.s3.xml_render import (
    CHECKSUM_ALGORITHMS,
    NS,
    CorsRule,
    ObjectEntry,
    Owner,
    PartEntry,
    UploadEntry,
    VersionEntry,
    checksums_xml,
    common_prefixes_xml,
    complete_multipart,
    copy_object_result,
    copy_part_result,
    cors,
    delete_result,
    document,
    el,
    encoder,
    error,
    esc,
    etag_el,
    initiate_multipart,
    list_buckets,
    location,
    opt,
    owner_xml,
    post_response,
    tagging,
    timestamp,
    url_encode,
    versioning,
    xml_bool,
)

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CORS_METHODS",
    "MALFORMED",
    "MAX_BUCKET_TAGS",
    "MAX_CORS_RULES",
    "MAX_DELETE_OBJECTS",
    "MAX_OBJECT_TAGS",
    "NS",
    "CorsRule",
    "ObjectEntry",
    "Owner",
    "PartEntry",
    "S3XmlError",
    "UploadEntry",
    "VersionEntry",
    "complete_multipart",
    "copy_object_result",
    "copy_part_result",
    "cors",
    "delete_result",
    "error",
    "initiate_multipart",
    "list_buckets",
    "list_multipart_uploads",
    "list_object_versions",
    "list_objects_v1",
    "list_objects_v2",
    "list_parts",
    "location",
    "parse_complete_multipart",
    "parse_cors",
    "parse_create_bucket",
    "parse_delete",
    "parse_tagging",
    "parse_versioning",
    "post_response",
    "tagging",
    "timestamp",
    "url_encode",
    "versioning",
]


def _contents(entries: Iterable[ObjectEntry], enc: Callable[[str], str], owners: bool) -> str:
    # One f-string per entry: listings run to 1000 entries, so the call count matters.
    parts: list[str] = []
    add = parts.append
    for e in entries:
        checksum = ""
        if e.checksum_algorithm is not None:
            checksum = el("ChecksumAlgorithm", e.checksum_algorithm)
        if e.checksum_type is not None:
            checksum += el("ChecksumType", e.checksum_type)
        owner = owner_xml("Owner", e.owner) if owners else ""
        add(
            f"<Contents><Key>{esc(enc(e.key))}</Key>"
            f"<LastModified>{timestamp(e.last_modified)}</LastModified>"
            f"{etag_el(e.etag)}{checksum}<Size>{e.size}</Size>{owner}"
            f"<StorageClass>{esc(e.storage_class)}</StorageClass></Contents>"
        )
    return "".join(parts)


def list_objects_v2(
    bucket: str,
    prefix: str | None,
    delimiter: str | None,
    max_keys: int,
    encoding_type: str | None,
    start_after: str | None,
    continuation_token: str | None,
    next_continuation_token: str | None,
    key_count: int,
    is_truncated: bool,
    contents: Iterable[ObjectEntry],
    common_prefixes: Iterable[str],
    fetch_owner: bool = False,
) -> bytes:
    """``ListBucketResult`` for ``list-type=2``. Owners only with ``fetch-owner=true``."""
    enc = encoder(encoding_type)
    body = "".join(
        (
            el("Name", bucket),
            el("Prefix", enc(prefix or "")),
            opt("ContinuationToken", continuation_token),
            opt("NextContinuationToken", next_continuation_token),
            "" if start_after is None else el("StartAfter", enc(start_after)),
            f"<KeyCount>{key_count}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            "" if delimiter is None else el("Delimiter", enc(delimiter)),
            opt("EncodingType", encoding_type),
            f"<IsTruncated>{xml_bool(is_truncated)}</IsTruncated>",
            _contents(contents, enc, fetch_owner),
            common_prefixes_xml(common_prefixes, enc),
        )
    )
    return document("ListBucketResult", body)


def list_objects_v1(
    bucket: str,
    prefix: str | None,
    delimiter: str | None,
    marker: str | None,
    next_marker: str | None,
    max_keys: int,
    encoding_type: str | None,
    is_truncated: bool,
    contents: Iterable[ObjectEntry],
    common_prefixes: Iterable[str],
) -> bytes:
    """``ListBucketResult`` for the original ListObjects; S3 always lists owners here."""
    enc = encoder(encoding_type)
    body = "".join(
        (
            el("Name", bucket),
            el("Prefix", enc(prefix or "")),
            el("Marker", enc(marker or "")),
            "" if next_marker is None else el("NextMarker", enc(next_marker)),
            f"<MaxKeys>{max_keys}</MaxKeys>",
            "" if delimiter is None else el("Delimiter", enc(delimiter)),
            opt("EncodingType", encoding_type),
            f"<IsTruncated>{xml_bool(is_truncated)}</IsTruncated>",
            _contents(contents, enc, True),
            common_prefixes_xml(common_prefixes, enc),
        )
    )
    return document("ListBucketResult", body)


def list_object_versions(
    bucket: str,
    prefix: str | None,
    delimiter: str | None,
    key_marker: str | None,
    version_id_marker: str | None,
    next_key_marker: str | None,
    next_version_id_marker: str | None,
    max_keys: int,
    encoding_type: str | None,
    is_truncated: bool,
    versions: Iterable[VersionEntry],
    common_prefixes: Iterable[str],
) -> bytes:
    """``ListVersionsResult``; versions and delete markers stay interleaved as given."""
    enc = encoder(encoding_type)
    parts = [
        el("Name", bucket),
        el("Prefix", enc(prefix or "")),
        el("KeyMarker", enc(key_marker or "")),
        el("VersionIdMarker", version_id_marker or ""),
        "" if next_key_marker is None else el("NextKeyMarker", enc(next_key_marker)),
        opt("NextVersionIdMarker", next_version_id_marker),
        f"<MaxKeys>{max_keys}</MaxKeys>",
        "" if delimiter is None else el("Delimiter", enc(delimiter)),
        opt("EncodingType", encoding_type),
        f"<IsTruncated>{xml_bool(is_truncated)}</IsTruncated>",
    ]
    add = parts.append
    for v in versions:
        tag = "DeleteMarker" if v.is_delete_marker else "Version"
        add(f"<{tag}>")
        add(el("Key", enc(v.key)))
        add(el("VersionId", v.version_id))
        add(f"<IsLatest>{xml_bool(v.is_latest)}</IsLatest>")
        add(f"<LastModified>{timestamp(v.last_modified)}</LastModified>")
        if not v.is_delete_marker:
            add(etag_el(v.etag or ""))
            add(f"<Size>{v.size}</Size>")
        add(owner_xml("Owner", v.owner))
        if not v.is_delete_marker:
            add(el("StorageClass", v.storage_class))
        add(f"</{tag}>")
    add(common_prefixes_xml(common_prefixes, enc))
    return document("ListVersionsResult", "".join(parts))


def list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    part_number_marker: int | None,
    next_part_number_marker: int | None,
    max_parts: int,
    is_truncated: bool,
    parts: Iterable[PartEntry],
    storage_class: str = "STANDARD",
    owner: Owner | None = None,
    initiator: Owner | None = None,
) -> bytes:
    """``ListPartsResult``. The initiator defaults to the owner (an account, not a user)."""
    out = [
        el("Bucket", bucket),
        el("Key", key),
        el("UploadId", upload_id),
        owner_xml("Initiator", initiator or owner),
        owner_xml("Owner", owner),
        el("StorageClass", storage_class),
        f"<PartNumberMarker>{part_number_marker or 0}</PartNumberMarker>",
        (
            ""
            if next_part_number_marker is None
            else f"<NextPartNumberMarker>{next_part_number_marker}</NextPartNumberMarker>"
        ),
        f"<MaxParts>{max_parts}</MaxParts>",
        f"<IsTruncated>{xml_bool(is_truncated)}</IsTruncated>",
    ]
    add = out.append
    for p in parts:
        add(f"<Part><PartNumber>{p.part_number}</PartNumber>")
        add(f"<LastModified>{timestamp(p.last_modified)}</LastModified>")
        add(etag_el(p.etag))
        add(checksums_xml(p.checksums))
        add(f"<Size>{p.size}</Size></Part>")
    return document("ListPartsResult", "".join(out))


def list_multipart_uploads(
    bucket: str,
    prefix: str | None,
    delimiter: str | None,
    key_marker: str | None,
    upload_id_marker: str | None,
    next_key_marker: str | None,
    next_upload_id_marker: str | None,
    max_uploads: int,
    is_truncated: bool,
    uploads: Iterable[UploadEntry],
    common_prefixes: Iterable[str],
    encoding_type: str | None = None,
) -> bytes:
    enc = encoder(encoding_type)
    out = [
        el("Bucket", bucket),
        el("KeyMarker", enc(key_marker or "")),
        el("UploadIdMarker", upload_id_marker or ""),
        el("NextKeyMarker", enc(next_key_marker or "")),
        el("NextUploadIdMarker", next_upload_id_marker or ""),
        "" if delimiter is None else el("Delimiter", enc(delimiter)),
        el("Prefix", enc(prefix or "")),
        f"<MaxUploads>{max_uploads}</MaxUploads>",
        opt("EncodingType", encoding_type),
        f"<IsTruncated>{xml_bool(is_truncated)}</IsTruncated>",
    ]
    add = out.append
    for u in uploads:
        add("<Upload>")
        add(el("Key", enc(u.key)))
        add(el("UploadId", u.upload_id))
        add(owner_xml("Initiator", u.initiator or u.owner))
        add(owner_xml("Owner", u.owner))
        add(el("StorageClass", u.storage_class))
        add(f"<Initiated>{timestamp(u.initiated)}</Initiated>")
        add("</Upload>")
    add(common_prefixes_xml(common_prefixes, enc))
    return document("ListMultipartUploadsResult", "".join(out))

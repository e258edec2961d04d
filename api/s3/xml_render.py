"""Building blocks of S3 response bodies, plus the single-shot documents.

Shared by :mod:`api.s3.xml` (which renders the paginated listings and is the import point)
and :mod:`api.s3.xml_parse`. Documents are built as strings: several times faster than
ElementTree, and escaping stays exactly under our control. Element order follows the
samples in the S3 API reference, which show what S3 sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote_plus

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Checksum element suffixes in the order S3 and botocore's model list them.
CHECKSUM_ALGORITHMS = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
_CHECKSUM_SET = frozenset(CHECKSUM_ALGORITHMS)

# Anything that needs more than a copy: markup characters, CR (a parser would turn a raw CR
# into LF, so it travels as a reference) and characters XML 1.0 cannot carry at all.
_SPECIAL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_NON_XML = re.compile("[\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    key: str
    last_modified: datetime
    etag: str
    size: int
    storage_class: str = "STANDARD"
    owner: Owner | None = None
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One row of ListObjectVersions: an object version, or a delete marker."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    etag: str | None = None
    size: int | None = None
    is_delete_marker: bool = False
    owner: Owner | None = None
    storage_class: str = "STANDARD"

    def __post_init__(self) -> None:
        if not self.is_delete_marker and (self.etag is None or self.size is None):
            raise ValueError("an object version needs etag and size")


@dataclass(frozen=True, slots=True)
class PartEntry:
    part_number: int
    last_modified: datetime
    etag: str
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UploadEntry:
    key: str
    upload_id: str
    initiated: datetime
    storage_class: str = "STANDARD"
    owner: Owner | None = None
    initiator: Owner | None = None


@dataclass(frozen=True, slots=True)
class CorsRule:
    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


# ---------------------------------------------------------------- primitives


def _char_ref(match: re.Match[str]) -> str:
    return f"&#x{ord(match.group()):X};"


def esc(text: str) -> str:
    """Escape element text; quotes become ``&quot;`` as in S3's own documents.

    Characters XML 1.0 forbids are written as character references, as S3 does: such a
    document is not well-formed, which is why clients list with ``encoding-type=url``.
    """
    if _SPECIAL.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _NON_XML.sub(_char_ref, text.replace('"', "&quot;"))


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as S3 writes ``LastModified``. Naive means UTC."""
    # isoformat truncates to milliseconds as S3 does and is far faster than strftime; the
    # identity test skips astimezone, which costs as much again, for the usual UTC value.
    if value.tzinfo is None:
        return f"{value.isoformat(timespec='milliseconds')}Z"
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return f"{value.isoformat(timespec='milliseconds')[:-6]}Z"


def etag_el(etag: str) -> str:
    """``<ETag>`` with the quotes S3 sends (as ``&quot;``); takes the ETag bare or quoted."""
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    # Without its quotes the usual hex ETag takes esc's fast path.
    return f"<ETag>&quot;{esc(etag)}&quot;</ETag>"


def url_encode(text: str) -> str:
    """``encoding-type=url`` as S3 does it: form encoding (space is ``+``), ``/`` kept.

    botocore decodes with ``unquote_plus``, so ``+`` in a key must and does become %2B.
    """
    return quote_plus(text, safe="/")


def _same(text: str) -> str:
    return text


def encoder(encoding_type: str | None) -> Callable[[str], str]:
    if encoding_type is None:
        return _same
    if encoding_type == "url":
        return url_encode
    raise ValueError(f"unsupported encoding type {encoding_type!r}")


def el(name: str, text: str) -> str:
    return f"<{name}>{esc(text)}</{name}>"


def xml_bool(value: bool) -> str:
    return "true" if value else "false"


def owner_xml(tag: str, owner: Owner | None) -> str:
    if owner is None:
        return ""
    name = "" if owner.display_name is None else el("DisplayName", owner.display_name)
    return f"<{tag}>{el('ID', owner.id)}{name}</{tag}>"


def checksums_xml(checksums: Mapping[str, str] | None) -> str:
    if not checksums:
        return ""
    unknown = checksums.keys() - _CHECKSUM_SET
    if unknown:
        raise ValueError(f"unknown checksum algorithms {sorted(unknown)}")
    return "".join(
        el(f"Checksum{alg}", checksums[alg]) for alg in CHECKSUM_ALGORITHMS if alg in checksums
    )


def common_prefixes_xml(prefixes: Iterable[str], enc: Callable[[str], str]) -> str:
    return "".join(f"<CommonPrefixes>{el('Prefix', enc(p))}</CommonPrefixes>" for p in prefixes)


def opt(name: str, value: str | None) -> str:
    return "" if value is None else el(name, value)


def document(root: str, body: str, *, namespace: bool = True) -> bytes:
    attrs = f' xmlns="{NS}"' if namespace else ""
    return f"{_DECL}<{root}{attrs}>{body}</{root}>".encode()


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return xml_bool(value)
    if isinstance(value, datetime):
        return timestamp(value)
    return str(value)


# ---------------------------------------------------------------- documents


def error(
    code: str, message: str, resource: str = "", request_id: str = "", **extra: object
) -> bytes:
    """``<Error>`` without a namespace, as S3 sends it.

    Extra elements (``Key``, ``BucketName``, ``ArgumentName`` …) go after ``Message`` and
    ``HostId`` after ``RequestId``, where S3 puts them; ``None`` values are left out.
    """
    parts = [el("Code", code), el("Message", message)]
    host_id = extra.pop("HostId", None)
    for name, value in extra.items():
        if not _NAME.match(name):
            raise ValueError(f"not an XML element name: {name!r}")
        if value is not None:
            parts.append(el(name, _scalar(value)))
    if resource:
        parts.append(el("Resource", resource))
    parts.append(el("RequestId", request_id))
    if host_id is not None:
        parts.append(el("HostId", _scalar(host_id)))
    return document("Error", "".join(parts), namespace=False)


def list_buckets(
    owner_id: str, owner_name: str | None, buckets: Iterable[tuple[str, datetime]]
) -> bytes:
    rows = "".join(
        f"<Bucket>{el('Name', name)}{el('CreationDate', timestamp(created))}</Bucket>"
        for name, created in buckets
    )
    owner = owner_xml("Owner", Owner(owner_id, owner_name))
    return document("ListAllMyBucketsResult", f"{owner}<Buckets>{rows}</Buckets>")


def location(region: str | None) -> bytes:
    """S3 answers an empty ``LocationConstraint`` for us-east-1 (and botocore reads None)."""
    if not region or region == "us-east-1":
        return f'{_DECL}<LocationConstraint xmlns="{NS}"/>'.encode()
    return document("LocationConstraint", esc(region))


def initiate_multipart(bucket: str, key: str, upload_id: str) -> bytes:
    body = el("Bucket", bucket) + el("Key", key) + el("UploadId", upload_id)
    return document("InitiateMultipartUploadResult", body)


def post_response(location: str, bucket: str, key: str, etag: str) -> bytes:
    """The answer to a POST upload with ``success_action_status=201``."""
    body = "".join((el("Location", location), el("Bucket", bucket), el("Key", key), etag_el(etag)))
    return document("PostResponse", body)


def complete_multipart(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    body = "".join(
        (
            el("Location", location),
            el("Bucket", bucket),
            el("Key", key),
            etag_el(etag),
            checksums_xml(checksums),
            opt("ChecksumType", checksum_type),
        )
    )
    return document("CompleteMultipartUploadResult", body)


def copy_object_result(
    etag: str,
    last_modified: datetime,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    body = "".join(
        (
            f"<LastModified>{timestamp(last_modified)}</LastModified>",
            etag_el(etag),
            opt("ChecksumType", checksum_type),
            checksums_xml(checksums),
        )
    )
    return document("CopyObjectResult", body)


def copy_part_result(
    etag: str, last_modified: datetime, checksums: Mapping[str, str] | None = None
) -> bytes:
    body = (
        f"<LastModified>{timestamp(last_modified)}</LastModified>"
        + etag_el(etag)
        + checksums_xml(checksums)
    )
    return document("CopyPartResult", body)


def delete_result(
    deleted: Iterable[tuple[str, str | None, bool, str | None]],
    errors: Iterable[tuple[str, str | None, str, str]],
    quiet: bool = False,
) -> bytes:
    """``DeleteResult``. In quiet mode S3 reports only the failures."""
    parts: list[str] = []
    add = parts.append
    if not quiet:
        for key, version_id, delete_marker, marker_version_id in deleted:
            add("<Deleted>")
            add(el("Key", key))
            add(opt("VersionId", version_id))
            if delete_marker:
                add("<DeleteMarker>true</DeleteMarker>")
            add(opt("DeleteMarkerVersionId", marker_version_id))
            add("</Deleted>")
    for key, version_id, code, message in errors:
        add(f"<Error>{el('Key', key)}{opt('VersionId', version_id)}")
        add(f"{el('Code', code)}{el('Message', message)}</Error>")
    return document("DeleteResult", "".join(parts))


def versioning(status: str | None, mfa_delete: str | None = None) -> bytes:
    """Never-versioned buckets answer an empty ``VersioningConfiguration``.

    The MFA element is ``MfaDelete`` on the wire (botocore's model agrees), not ``MFADelete``.
    """
    if status is None and mfa_delete is None:
        return f'{_DECL}<VersioningConfiguration xmlns="{NS}"/>'.encode()
    return document("VersioningConfiguration", opt("Status", status) + opt("MfaDelete", mfa_delete))


def tagging(tags: Mapping[str, str]) -> bytes:
    rows = "".join(f"<Tag>{el('Key', k)}{el('Value', v)}</Tag>" for k, v in tags.items())
    return document("Tagging", f"<TagSet>{rows}</TagSet>")


def cors(rules: Sequence[CorsRule]) -> bytes:
    parts: list[str] = []
    add = parts.append
    for rule in rules:
        add("<CORSRule>")
        add(opt("ID", rule.id))
        add("".join(el("AllowedHeader", h) for h in rule.allowed_headers))
        add("".join(el("AllowedMethod", m) for m in rule.allowed_methods))
        add("".join(el("AllowedOrigin", o) for o in rule.allowed_origins))
        add("".join(el("ExposeHeader", h) for h in rule.expose_headers))
        if rule.max_age_seconds is not None:
            add(f"<MaxAgeSeconds>{rule.max_age_seconds}</MaxAgeSeconds>")
        add("</CORSRule>")
    return document("CORSConfiguration", "".join(parts))


# ---------------------------------------------------------------- bucket configuration (ACLs off)

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def access_control_policy(owner: Owner) -> bytes:
    """``AccessControlPolicy`` of a bucket or object whose ACLs are disabled (Object Ownership
    BucketOwnerEnforced): the owner, holding FULL_CONTROL, is the only grantee. The grantee's
    type travels as ``xsi:type``, where botocore reads it."""
    grantee = (
        f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">'
        f"{el('ID', owner.id)}{opt('DisplayName', owner.display_name)}</Grantee>"
    )
    grant = f"<Grant>{grantee}<Permission>FULL_CONTROL</Permission></Grant>"
    body = f"{owner_xml('Owner', owner)}<AccessControlList>{grant}</AccessControlList>"
    return document("AccessControlPolicy", body)


def ownership_controls(object_ownership: str = "BucketOwnerEnforced") -> bytes:
    rule = f"<Rule>{el('ObjectOwnership', object_ownership)}</Rule>"
    return document("OwnershipControls", rule)


def empty_document(root: str) -> bytes:
    """A configuration document with nothing set, as S3 answers it (``<Root xmlns="…"/>``):
    logging off, no notifications, no transfer acceleration."""
    if not _NAME.match(root):
        raise ValueError(f"not an XML element name: {root!r}")
    return f'{_DECL}<{root} xmlns="{NS}"/>'.encode()


def request_payment(payer: str = "BucketOwner") -> bytes:
    return document("RequestPaymentConfiguration", el("Payer", payer))

"""Parse S3 request bodies strictly: anything off-schema is refused with S3's error code.

Bodies are untrusted. A document type declaration is refused before parsing, which rules
out entity expansion ("billion laughs") and external entities. Bodies must be UTF-8, as S3
requires; they are decoded here so a declared encoding cannot smuggle a DOCTYPE past the
check. Elements may carry the S3 namespace or none (both occur in the wild).
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Literal

from api.s3.xml_render import CHECKSUM_ALGORITHMS, NS, CorsRule

MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
MAX_DELETE_OBJECTS = 1000  # S3's documented limit for DeleteObjects
MAX_PARTS = 10000  # S3's part-number ceiling; a longer list cannot be valid
MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_CORS_RULES = 100
CORS_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})

_CHECKSUM_ELEMENTS = {f"Checksum{alg}": alg for alg in CHECKSUM_ALGORITHMS}
_DIGITS = re.compile(r"[0-9]{1,10}\Z")
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


class S3XmlError(Exception):
    """A request body S3 would refuse; ``code`` is the S3 error code to answer with."""

    def __init__(self, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra


def _malformed() -> S3XmlError:
    return S3XmlError("MalformedXML", MALFORMED)


# ---------------------------------------------------------------- tree walking


def parse_document(body: bytes, malformed: Callable[[], S3XmlError] = _malformed) -> ET.Element:
    """Parse a request body as S3 does: UTF-8 (a BOM allowed), no DOCTYPE or entities (no
    expansion, no external entities); anything else raises what ``malformed`` makes."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise malformed() from None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise malformed()
    try:
        # A str is fed to expat as UTF-8 whatever the XML declaration says.
        return ET.fromstring(text)
    except ET.ParseError:
        raise malformed() from None


def _root(body: bytes, name: str) -> tuple[ET.Element, str]:
    """Parse ``body`` and check its root; return it with the namespace prefix in use."""
    root = parse_document(body)
    prefix = f"{{{NS}}}" if root.tag.startswith("{") else ""
    if root.tag != f"{prefix}{name}":
        raise _malformed()
    return root, prefix


def _children(element: ET.Element, prefix: str) -> Iterator[tuple[str, ET.Element]]:
    """Yield (local name, child); a container may hold only elements and whitespace."""
    if element.text and element.text.strip():
        raise _malformed()
    cut = len(prefix)
    for child in element:
        if (child.tail and child.tail.strip()) or not child.tag.startswith(prefix):
            raise _malformed()
        # In an un-namespaced document a namespaced child keeps its "{ns}" and so
        # matches no schema name: every caller refuses it.
        yield child.tag[cut:], child


def _text(element: ET.Element) -> str:
    """Text of a leaf element exactly as sent (keys may begin or end with spaces)."""
    if len(element):
        raise _malformed()
    return element.text or ""


def _once(seen: set[str], name: str) -> None:
    if name in seen:
        raise _malformed()
    seen.add(name)


# ---------------------------------------------------------------- bodies


def parse_create_bucket(body: bytes) -> str | None:
    """``LocationConstraint`` of a CreateBucket body; None for an empty body or element."""
    if not body.strip():
        return None
    root, prefix = _root(body, "CreateBucketConfiguration")
    region: str | None = None
    seen: set[str] = set()
    for name, child in _children(root, prefix):
        _once(seen, name)
        if name == "LocationConstraint":
            region = _text(child).strip() or None
        elif name in ("Location", "Bucket", "Tags"):
            # Directory buckets and tag-on-create: refusing beats silently dropping them.
            raise S3XmlError("NotImplemented", f"CreateBucketConfiguration {name} is not supported")
        else:
            raise _malformed()
    return region


def _xml_bool(text: str) -> bool:
    value = text.strip()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise _malformed()


def parse_delete(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """Objects named by a DeleteObjects body, in order, and the ``Quiet`` flag."""
    root, prefix = _root(body, "Delete")
    objects: list[tuple[str, str | None]] = []
    quiet: bool | None = None
    for name, child in _children(root, prefix):
        if name == "Quiet":
            if quiet is not None:
                raise _malformed()
            quiet = _xml_bool(_text(child))
        elif name == "Object":
            if len(objects) == MAX_DELETE_OBJECTS:
                raise _malformed()
            objects.append(_delete_object(child, prefix))
        else:
            raise _malformed()
    if not objects:
        raise _malformed()
    return objects, bool(quiet)


def _delete_object(element: ET.Element, prefix: str) -> tuple[str, str | None]:
    key: str | None = None
    version_id: str | None = None
    seen: set[str] = set()
    for name, child in _children(element, prefix):
        _once(seen, name)
        if name == "Key":
            key = _text(child)
        elif name == "VersionId":
            version_id = _text(child).strip()
            if not version_id:
                raise S3XmlError("InvalidArgument", "Invalid version id specified")
        elif name in ("ETag", "LastModifiedTime", "Size"):
            # Conditional deletes: ignoring the condition could delete what the caller
            # meant to protect, so say it is unsupported.
            raise S3XmlError("NotImplemented", f"Conditional delete on {name} is not supported")
        else:
            raise _malformed()
    if not key:
        raise _malformed()
    return key, version_id


def parse_complete_multipart(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """(part number, ETag without quotes, checksums by algorithm) in the order given.

    Order is kept so the caller can answer ``InvalidPartOrder``; part-number range and
    ETag matching are the caller's (``InvalidPart``).
    """
    root, prefix = _root(body, "CompleteMultipartUpload")
    parts: list[tuple[int, str, dict[str, str]]] = []
    for name, child in _children(root, prefix):
        if name != "Part" or len(parts) == MAX_PARTS:
            raise _malformed()
        parts.append(_completed_part(child, prefix))
    if not parts:
        raise _malformed()
    return parts


def _completed_part(element: ET.Element, prefix: str) -> tuple[int, str, dict[str, str]]:
    number: int | None = None
    etag: str | None = None
    checksums: dict[str, str] = {}
    seen: set[str] = set()
    for name, child in _children(element, prefix):
        _once(seen, name)
        if name == "PartNumber":
            text = _text(child).strip()
            if not _DIGITS.match(text):
                raise _malformed()
            number = int(text)
        elif name == "ETag":
            etag = _text(child).strip()
            if len(etag) >= 2 and etag[0] == etag[-1] == '"':
                etag = etag[1:-1]
        elif name in _CHECKSUM_ELEMENTS:
            checksums[_CHECKSUM_ELEMENTS[name]] = _text(child).strip()
        else:
            raise _malformed()
    if number is None or etag is None:
        raise _malformed()
    return number, etag, checksums


def parse_versioning(body: bytes) -> Literal["Enabled", "Suspended"]:
    """``Status`` of a PutBucketVersioning body. MFA delete is accepted and ignored."""
    root, prefix = _root(body, "VersioningConfiguration")
    status: str | None = None
    seen: set[str] = set()
    for name, child in _children(root, prefix):
        # botocore sends MfaDelete; the user guide spells it MFADelete. Same element.
        _once(seen, "MfaDelete" if name == "MFADelete" else name)
        if name == "Status":
            status = _text(child).strip()
        elif name in ("MfaDelete", "MFADelete"):
            _text(child)
        else:
            raise _malformed()
    if status == "Enabled":
        return "Enabled"
    if status == "Suspended":
        return "Suspended"
    raise _malformed()


def _tag_text_ok(text: str) -> bool:
    # S3 allows letters, numbers, separators (spaces) and _ . : / = + - @ in tags.
    for ch in text:
        if not (
            ch.isalpha()
            or ch.isnumeric()
            or ch in _TAG_PUNCTUATION
            or unicodedata.category(ch).startswith("Z")
        ):
            return False
    return True


def parse_tagging(body: bytes, *, bucket: bool = False) -> dict[str, str]:
    """Tags of a Put{Object,Bucket}Tagging body, validated with S3's limits and messages."""
    root, prefix = _root(body, "Tagging")
    tag_sets = list(_children(root, prefix))
    if len(tag_sets) != 1 or tag_sets[0][0] != "TagSet":
        raise _malformed()
    raw: list[tuple[str, str]] = []
    for name, child in _children(tag_sets[0][1], prefix):
        if name != "Tag":
            raise _malformed()
        raw.append(_tag(child, prefix))
    if bucket and len(raw) > MAX_BUCKET_TAGS:
        raise S3XmlError("BadRequest", "Bucket tag count cannot be greater than 50")
    if not bucket and len(raw) > MAX_OBJECT_TAGS:
        raise S3XmlError("BadRequest", "Object tags cannot be greater than 10")
    tags: dict[str, str] = {}
    for key, value in raw:
        if key in tags:
            raise S3XmlError(
                "InvalidTag", "Cannot provide multiple Tags with the same key", TagKey=key
            )
        if len(key) > 128:
            raise S3XmlError("InvalidTag", "The TagKey you have provided is too long, max 128")
        if len(value) > 256:
            raise S3XmlError("InvalidTag", "The TagValue you have provided is too long, max 256")
        if key.startswith("aws:"):
            message = (
                "System tags cannot be added/updated by requester"
                if bucket
                else "Your TagKey cannot be prefixed with aws:"
            )
            raise S3XmlError("InvalidTag", message, TagKey=key)
        if not key or not _tag_text_ok(key):
            raise S3XmlError("InvalidTag", "The TagKey you have provided is invalid", TagKey=key)
        if not _tag_text_ok(value):
            raise S3XmlError("InvalidTag", "The TagValue you have provided is invalid", TagKey=key)
        tags[key] = value
    return tags


def _tag(element: ET.Element, prefix: str) -> tuple[str, str]:
    fields: dict[str, str] = {}
    for name, child in _children(element, prefix):
        if name not in ("Key", "Value") or name in fields:
            raise _malformed()
        fields[name] = _text(child)
    if len(fields) != 2:
        raise _malformed()
    return fields["Key"], fields["Value"]


def parse_cors(body: bytes) -> list[CorsRule]:
    """Rules of a PutBucketCors body (1 to 100), with S3's method and wildcard checks."""
    root, prefix = _root(body, "CORSConfiguration")
    rules: list[CorsRule] = []
    for name, child in _children(root, prefix):
        if name != "CORSRule" or len(rules) == MAX_CORS_RULES:
            raise _malformed()
        rules.append(_cors_rule(child, prefix))
    if not rules:
        raise _malformed()
    return rules


def _one_wildcard(kind: str, value: str) -> str:
    if value.count("*") > 1:
        raise S3XmlError("InvalidRequest", f'{kind} "{value}" can not have more than one wildcard.')
    return value


def _cors_rule(element: ET.Element, prefix: str) -> CorsRule:
    lists: dict[str, list[str]] = {
        "AllowedHeader": [],
        "AllowedMethod": [],
        "AllowedOrigin": [],
        "ExposeHeader": [],
    }
    rule_id: str | None = None
    max_age: int | None = None
    seen: set[str] = set()
    for name, child in _children(element, prefix):
        if name in lists:
            lists[name].append(_text(child).strip())
            continue
        _once(seen, name)
        if name == "ID":
            rule_id = _text(child)
        elif name == "MaxAgeSeconds":
            text = _text(child).strip()
            if not _DIGITS.match(text):
                raise _malformed()
            max_age = int(text)
        else:
            raise _malformed()
    if not lists["AllowedMethod"] or not lists["AllowedOrigin"]:
        raise _malformed()
    for method in lists["AllowedMethod"]:
        if method not in CORS_METHODS:
            raise S3XmlError(
                "InvalidRequest",
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}",
            )
    return CorsRule(
        allowed_methods=tuple(lists["AllowedMethod"]),
        allowed_origins=tuple(_one_wildcard("AllowedOrigin", o) for o in lists["AllowedOrigin"]),
        allowed_headers=tuple(_one_wildcard("AllowedHeader", h) for h in lists["AllowedHeader"]),
        expose_headers=tuple(lists["ExposeHeader"]),
        max_age_seconds=max_age,
        id=rule_id,
    )

"""S3 XML layer, checked the way boto3 sees it.

Rendered documents go through botocore's own RestXMLParser with the S3 service model (plus
the handlers boto3 runs after it); request bodies come from botocore's own serializer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_plus

import botocore.session
import pytest
from botocore import handlers
from botocore.parsers import ResponseParserError, RestXMLParser
from botocore.serialize import create_serializer

from api.s3 import xml as s3xml
from api.s3.xml import CorsRule, ObjectEntry, Owner, PartEntry, S3XmlError, UploadEntry
from api.s3.xml import VersionEntry as V

MODEL = botocore.session.get_session().get_service_model("s3")
T = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T_MS = T.replace(microsecond=678000)  # S3 timestamps carry milliseconds
ODD_KEYS = ["a&b", "x<y>z", "q\"uote's", "ünï/cødé 日本", "]]>", "tab\there", "spa ce+plus%"]


def parse(op: str, body: bytes, status: int = 200, **headers: str) -> dict[str, Any]:
    shape = MODEL.operation_model(op).output_shape
    return RestXMLParser().parse({"body": body, "headers": headers, "status_code": status}, shape)


def request_body(op: str, **params: Any) -> bytes:
    request = create_serializer("rest-xml").serialize_to_request(params, MODEL.operation_model(op))
    return request["body"]


def child_tags(body: bytes) -> list[str]:
    return [c.tag.split("}")[-1] for c in ET.fromstring(body)]


def auto_decoded(decoder: Any, parsed: dict[str, Any]) -> dict[str, Any]:
    """What boto3 returns: it asked for encoding-type=url itself, so it decodes."""
    decoder(parsed, context={"encoding_type_auto_set": True})
    return parsed


# ---------------------------------------------------------------- primitives


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert s3xml.timestamp(T) == "2024-01-02T03:04:05.678Z"
    plus_two = T.astimezone(timezone(timedelta(hours=2)))
    assert s3xml.timestamp(plus_two) == "2024-01-02T03:04:05.678Z"
    assert s3xml.timestamp(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"


def test_documents_are_utf8_with_declaration_and_namespace() -> None:
    docs = {
        "Error": s3xml.error("NoSuchBucket", "é", "/b", "r"),
        "ListBucketResult": s3xml.list_objects_v2(
            "b", None, None, 1, None, None, None, None, 0, False, [], []
        ),
        "Tagging": s3xml.tagging({"k": "日本"}),
    }
    for root, body in docs.items():
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        tag = ET.fromstring(body).tag
        # S3 puts no namespace on <Error>, and the S3 namespace on everything else.
        assert tag == (root if root == "Error" else f"{{{s3xml.NS}}}{root}")
    assert "日本".encode() in docs["Tagging"]


def test_carriage_return_survives_and_non_xml_characters_become_references() -> None:
    body = s3xml.tagging({"k": "a\rb"})
    assert parse("GetObjectTagging", body)["TagSet"] == [{"Key": "k", "Value": "a\rb"}]
    # Like S3: a key XML 1.0 cannot carry is written as a reference, which no XML parser
    # accepts; that is why clients list with encoding-type=url.
    bad = s3xml.list_objects_v2(
        "b", None, None, 1, None, None, None, None, 1, False, [ObjectEntry("a\x01", T, "e", 1)], []
    )
    assert b"<Key>a&#x1;</Key>" in bad
    with pytest.raises(ResponseParserError):
        parse("ListObjectsV2", bad)


def test_renderers_refuse_programming_errors() -> None:
    with pytest.raises(ValueError):
        s3xml.list_objects_v2("b", None, None, 1, "base64", None, None, None, 0, False, [], [])
    with pytest.raises(ValueError):
        s3xml.copy_part_result("e", T, {"CRC16": "x"})
    with pytest.raises(ValueError):
        s3xml.error("Code", "m", **{"bad name": "x"})
    with pytest.raises(ValueError):
        V("k", "v1", True, T)  # a version (not a delete marker) needs etag and size


# ---------------------------------------------------------------- responses


def test_error_document_code_message_and_extras() -> None:
    body = s3xml.error(
        "NoSuchKey", 'The <key> & "it"', "/b/k&", "REQ1", Key="k&<", HostId="H", Skip=None
    )
    assert child_tags(body) == ["Code", "Message", "Key", "Resource", "RequestId", "HostId"]
    parsed = parse("GetObject", body, 404, **{"x-amz-request-id": "REQ1", "x-amz-id-2": "H"})
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": 'The <key> & "it"',
        "Key": "k&<",
        "Resource": "/b/k&",
    }
    # botocore takes RequestId/HostId from the headers, never from the body.
    assert parsed["ResponseMetadata"]["RequestId"] == "REQ1"
    assert parsed["ResponseMetadata"]["HostId"] == "H"


def test_list_buckets() -> None:
    body = s3xml.list_buckets("owner-id", "me&you", [("b1", T), ("b-2", T + timedelta(days=1))])
    parsed = parse("ListBuckets", body)
    assert parsed["Owner"] == {"ID": "owner-id", "DisplayName": "me&you"}
    assert [(b["Name"], b["CreationDate"]) for b in parsed["Buckets"]] == [
        ("b1", T_MS),
        ("b-2", T_MS + timedelta(days=1)),
    ]


@pytest.mark.parametrize(
    ("region", "expected"), [("us-east-1", None), (None, None), ("eu-west-1", "eu-west-1")]
)
def test_location(region: str | None, expected: str | None) -> None:
    body = s3xml.location(region)
    parsed = parse("GetBucketLocation", body)
    # The model cannot describe this document; boto3 relies on this handler.
    handlers.parse_get_bucket_location(parsed, SimpleNamespace(raw=object(), content=body))
    assert parsed["LocationConstraint"] == expected


def _objects(keys: list[str]) -> list[ObjectEntry]:
    owner = Owner("oid", "name")
    return [ObjectEntry(k, T, f"etag{i}", i, owner=owner) for i, k in enumerate(keys)]


def test_list_objects_v2_plain() -> None:
    body = s3xml.list_objects_v2(
        "bkt", "p&", "/", 3, None, "p&0", "tok+/=", "next+/=", 9, True,
        [*_objects(ODD_KEYS), ObjectEntry("c", T, '"q"', 7, "GLACIER", None, "SHA256",
                                          "FULL_OBJECT")],
        ["p&/sub/", "日本/"],
    )  # fmt: skip
    assert b"<ETag>&quot;etag0&quot;</ETag>" in body
    assert child_tags(body)[:10] == [
        "Name", "Prefix", "ContinuationToken", "NextContinuationToken", "StartAfter",
        "KeyCount", "MaxKeys", "Delimiter", "IsTruncated", "Contents",
    ]  # fmt: skip
    parsed = parse("ListObjectsV2", body)
    assert [c["Key"] for c in parsed["Contents"]] == [*ODD_KEYS, "c"]
    first, last = parsed["Contents"][0], parsed["Contents"][-1]
    assert first == {
        "Key": "a&b", "LastModified": T_MS, "ETag": '"etag0"', "Size": 0, "StorageClass": "STANDARD"
    }  # fmt: skip
    assert last["ChecksumAlgorithm"] == ["SHA256"] and last["ChecksumType"] == "FULL_OBJECT"
    assert last["ETag"] == '"q"' and last["StorageClass"] == "GLACIER"
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["p&/sub/", "日本/"]
    expected = {
        "Name": "bkt", "Prefix": "p&", "Delimiter": "/", "MaxKeys": 3, "KeyCount": 9,
        "IsTruncated": True, "StartAfter": "p&0", "ContinuationToken": "tok+/=",
        "NextContinuationToken": "next+/=",
    }  # fmt: skip
    assert {k: parsed[k] for k in expected} == expected
    assert "EncodingType" not in parsed


def test_list_objects_v2_owner_only_when_fetched_and_last_page() -> None:
    def listing(fetch_owner: bool) -> dict[str, Any]:
        objects = _objects(["k"])
        body = s3xml.list_objects_v2(
            "b", None, None, 1000, None, None, None, None, 1, False, objects, [], fetch_owner
        )
        return parse("ListObjectsV2", body)

    assert "Owner" not in listing(False)["Contents"][0]
    parsed = listing(True)
    assert parsed["Contents"][0]["Owner"] == {"ID": "oid", "DisplayName": "name"}
    assert parsed["IsTruncated"] is False and parsed["Prefix"] == ""
    assert "NextContinuationToken" not in parsed and "CommonPrefixes" not in parsed


def test_list_objects_v2_url_encoding_round_trips_through_boto3() -> None:
    keys = [*ODD_KEYS, "ctl\x01\x1f", "100%+1"]
    body = s3xml.list_objects_v2(
        "b", "p q/", "/", 5, "url", "a+b", None, None, 2, False, _objects(keys), ["p q/d+/"]
    )
    raw = parse("ListObjectsV2", body)
    assert raw["EncodingType"] == "url"
    assert raw["Prefix"] == "p+q/" and raw["Contents"][1]["Key"] == "x%3Cy%3Ez"
    assert raw["Contents"][-1]["Key"] == "100%25%2B1"
    decoded = auto_decoded(handlers.decode_list_object_v2, raw)
    assert [c["Key"] for c in decoded["Contents"]] == keys
    assert (decoded["Prefix"], decoded["StartAfter"], decoded["Delimiter"]) == ("p q/", "a+b", "/")
    assert decoded["CommonPrefixes"] == [{"Prefix": "p q/d+/"}]


def test_list_objects_v1() -> None:
    body = s3xml.list_objects_v1(
        "b", "日", "/", "m a", "n x+&", 2, "url", True, _objects(["日 1", "日+2"]), ["日/"]
    )
    assert child_tags(body)[:8] == [
        "Name", "Prefix", "Marker", "NextMarker", "MaxKeys", "Delimiter", "EncodingType",
        "IsTruncated",
    ]  # fmt: skip
    parsed = auto_decoded(handlers.decode_list_object, parse("ListObjects", body))
    assert [c["Key"] for c in parsed["Contents"]] == ["日 1", "日+2"]
    assert parsed["Contents"][0]["Owner"] == {"ID": "oid", "DisplayName": "name"}
    assert (parsed["Marker"], parsed["NextMarker"], parsed["IsTruncated"]) == ("m a", "n x+&", True)
    assert parsed["CommonPrefixes"] == [{"Prefix": "日/"}]
    # S3 encodes Prefix too, and botocore's v1 handler does not decode it: same as AWS.
    assert parsed["Prefix"] == "%E6%97%A5"


def test_list_object_versions_keeps_interleaving() -> None:
    rows = [
        V("a+1", "v2", True, T, "e2", 20, owner=Owner("o")),
        V("a+1", "v1", False, T - timedelta(hours=1), "e1", 10),
        V("b 2%", "m1", True, T, is_delete_marker=True, owner=Owner("o", "n")),
        V("b 2%", "null", False, T, "e0", 5, storage_class="STANDARD_IA"),
    ]
    body = s3xml.list_object_versions(
        "bk", "", None, "k+m", "vm", "b 2%", "null", 4, "url", True, rows, []
    )
    assert child_tags(body)[:10] == [
        "Name", "Prefix", "KeyMarker", "VersionIdMarker", "NextKeyMarker",
        "NextVersionIdMarker", "MaxKeys", "EncodingType", "IsTruncated", "Version",
    ]  # fmt: skip
    assert child_tags(body)[9:] == ["Version", "Version", "DeleteMarker", "Version"]
    parsed = auto_decoded(handlers.decode_list_object_versions, parse("ListObjectVersions", body))
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in parsed["Versions"]] == [
        ("a+1", "v2", True), ("a+1", "v1", False), ("b 2%", "null", False)
    ]  # fmt: skip
    assert parsed["Versions"][0] == {
        "Key": "a+1", "VersionId": "v2", "IsLatest": True, "LastModified": T_MS,
        "ETag": '"e2"', "Size": 20, "Owner": {"ID": "o"}, "StorageClass": "STANDARD",
    }  # fmt: skip
    assert parsed["DeleteMarkers"] == [
        {"Key": "b 2%", "VersionId": "m1", "IsLatest": True, "LastModified": T_MS,
         "Owner": {"ID": "o", "DisplayName": "n"}}
    ]  # fmt: skip
    assert (parsed["KeyMarker"], parsed["VersionIdMarker"]) == ("k+m", "vm")
    assert (parsed["NextKeyMarker"], parsed["NextVersionIdMarker"]) == ("b 2%", "null")


def test_multipart_lifecycle_documents() -> None:
    init = parse("CreateMultipartUpload", s3xml.initiate_multipart("b", "k&<", "up+/="))
    assert (init["Bucket"], init["Key"], init["UploadId"]) == ("b", "k&<", "up+/=")
    body = s3xml.complete_multipart(
        "http://h/b/k%26", "b", "k&", "abc-2", {"CRC32": "AAAAAA==", "SHA1": "x"}, "COMPOSITE"
    )
    done = parse("CompleteMultipartUpload", body)
    assert done["Location"] == "http://h/b/k%26" and done["ETag"] == '"abc-2"'
    assert (done["ChecksumCRC32"], done["ChecksumSHA1"], done["ChecksumType"]) == (
        "AAAAAA==", "x", "COMPOSITE"
    )  # fmt: skip


def test_list_parts() -> None:
    parts = [PartEntry(2, T, "e2", 5 << 20, {"CRC32C": "c2"}), PartEntry(3, T, '"e3"', 1)]
    body = s3xml.list_parts("b", "k<", "u", 1, 3, 2, True, parts, "STANDARD", Owner("o", "n"))
    parsed = parse("ListParts", body)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parsed["Parts"]] == [
        (2, '"e2"', 5 << 20), (3, '"e3"', 1)
    ]  # fmt: skip
    assert parsed["Parts"][0]["ChecksumCRC32C"] == "c2"
    assert parsed["Parts"][0]["LastModified"] == T_MS
    assert parsed["Initiator"] == parsed["Owner"] == {"ID": "o", "DisplayName": "n"}
    expected = {"Bucket": "b", "Key": "k<", "UploadId": "u", "PartNumberMarker": 1,
                "NextPartNumberMarker": 3, "MaxParts": 2, "IsTruncated": True}  # fmt: skip
    assert {k: parsed[k] for k in expected} == expected
    first_page = parse("ListParts", s3xml.list_parts("b", "k", "u", None, None, 1000, False, []))
    assert first_page["PartNumberMarker"] == 0 and "Parts" not in first_page


def test_list_multipart_uploads() -> None:
    ups = [UploadEntry("a b&", "u1", T, owner=Owner("o"), initiator=Owner("arn:user"))]
    body = s3xml.list_multipart_uploads(
        "b", "a", "/", "k", "u0", "a b&", "u1", 1, True, ups, ["a/"], "url"
    )
    parsed = parse("ListMultipartUploads", body)
    # botocore does not auto-decode this listing; callers decode what they asked for.
    assert parsed["Uploads"][0]["Key"] == "a+b%26"
    assert unquote_plus(parsed["NextKeyMarker"]) == "a b&"
    up = parsed["Uploads"][0]
    assert (up["UploadId"], up["Initiated"], up["StorageClass"]) == ("u1", T_MS, "STANDARD")
    assert (up["Owner"], up["Initiator"]) == ({"ID": "o"}, {"ID": "arn:user"})
    assert (parsed["MaxUploads"], parsed["IsTruncated"], parsed["NextUploadIdMarker"]) == (
        1, True, "u1"
    )  # fmt: skip
    assert parsed["CommonPrefixes"] == [{"Prefix": "a/"}] and parsed["Delimiter"] == "/"


def test_copy_results_are_the_payload_member() -> None:
    obj = parse("CopyObject", s3xml.copy_object_result("e", T, {"SHA256": "s"}, "FULL_OBJECT"))
    assert obj["CopyObjectResult"] == {
        "ETag": '"e"', "LastModified": T_MS, "ChecksumType": "FULL_OBJECT", "ChecksumSHA256": "s"
    }  # fmt: skip
    part = parse("UploadPartCopy", s3xml.copy_part_result('"p"', T))
    assert part["CopyPartResult"] == {"ETag": '"p"', "LastModified": T_MS}


def test_delete_result() -> None:
    deleted = [("a&", None, False, None), ("b", "v1", True, "v1"), ("c<", None, True, "m9")]
    errors = [("d", "v2", "AccessDenied", "Access Denied")]
    parsed = parse("DeleteObjects", s3xml.delete_result(deleted, errors, quiet=False))
    assert parsed["Deleted"] == [
        {"Key": "a&"},
        {"Key": "b", "VersionId": "v1", "DeleteMarker": True, "DeleteMarkerVersionId": "v1"},
        {"Key": "c<", "DeleteMarker": True, "DeleteMarkerVersionId": "m9"},
    ]
    expected_errors = [{"Key": "d", "VersionId": "v2", "Code": "AccessDenied",
                        "Message": "Access Denied"}]  # fmt: skip
    assert parsed["Errors"] == expected_errors
    quiet = parse("DeleteObjects", s3xml.delete_result(deleted, errors, quiet=True))
    assert "Deleted" not in quiet and quiet["Errors"] == expected_errors


def test_bucket_configuration_documents() -> None:
    assert parse("GetBucketVersioning", s3xml.versioning("Enabled"))["Status"] == "Enabled"
    suspended = parse("GetBucketVersioning", s3xml.versioning("Suspended", "Disabled"))
    assert (suspended["Status"], suspended["MFADelete"]) == ("Suspended", "Disabled")
    never = parse("GetBucketVersioning", s3xml.versioning(None))
    assert set(never) == {"ResponseMetadata"}
    tags = {"k&": "v<", "日本": "", "a b": 'q"'}
    tag_set = parse("GetObjectTagging", s3xml.tagging(tags))["TagSet"]
    assert {t["Key"]: t["Value"] for t in tag_set} == tags
    rules = [
        CorsRule(("GET", "HEAD"), ("https://a.example", "*"), ("*",), ("ETag",), 300, "r&1"),
        CorsRule(("PUT",), ("http://*.b.example",)),
    ]
    assert parse("GetBucketCors", s3xml.cors(rules))["CORSRules"] == [
        {"ID": "r&1", "AllowedHeaders": ["*"], "AllowedMethods": ["GET", "HEAD"],
         "AllowedOrigins": ["https://a.example", "*"], "ExposeHeaders": ["ETag"],
         "MaxAgeSeconds": 300},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["http://*.b.example"]},
    ]  # fmt: skip
    # What we render, we read back unchanged.
    assert s3xml.parse_cors(s3xml.cors(rules)) == rules
    valid = {"k.1": "v/2", "日本": "", "a b": "x=y+z@:_-"}
    assert s3xml.parse_tagging(s3xml.tagging(valid)) == valid


# ---------------------------------------------------------------- request bodies


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(S3XmlError) as caught:
        call(*args, **kwargs)
    return caught.value.code


def test_parse_create_bucket() -> None:
    body = request_body(
        "CreateBucket", Bucket="b", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert s3xml.parse_create_bucket(body) == "eu-west-1"
    assert s3xml.parse_create_bucket(b"") is None
    assert s3xml.parse_create_bucket(b" \r\n") is None
    plain = b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>"
    assert s3xml.parse_create_bucket(plain) is None
    tagged = request_body(
        "CreateBucket", Bucket="b", CreateBucketConfiguration={"Tags": [{"Key": "a", "Value": "b"}]}
    )
    assert code_of(s3xml.parse_create_bucket, tagged) == "NotImplemented"


def _delete_body(objects: list[dict[str, Any]], **extra: Any) -> bytes:
    return request_body("DeleteObjects", Bucket="b", Delete={"Objects": objects, **extra})


def test_parse_delete() -> None:
    keys = ["a&b", "<x>", " spaced ", "ünï 日本", 'q"']
    objects = [{"Key": k} for k in keys] + [{"Key": "v", "VersionId": "3/L4+=="}]
    assert s3xml.parse_delete(_delete_body(objects, Quiet=True)) == (
        [(k, None) for k in keys] + [("v", "3/L4+==")], True
    )  # fmt: skip
    assert s3xml.parse_delete(_delete_body([{"Key": "k"}])) == ([("k", None)], False)
    at_limit = _delete_body([{"Key": f"k{i}"} for i in range(1000)])
    assert len(s3xml.parse_delete(at_limit)[0]) == 1000
    assert code_of(s3xml.parse_delete, _delete_body([{"Key": f"k{i}"} for i in range(1001)])) == (
        "MalformedXML"
    )
    conditional = _delete_body([{"Key": "k", "ETag": '"e"'}])
    assert code_of(s3xml.parse_delete, conditional) == "NotImplemented"
    for bad in (
        b"<Delete><Quiet>true</Quiet></Delete>",  # no objects
        b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",  # no key
        b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
        b"<Delete><Object><Key>a</Key><Extra/></Object></Delete>",
        b"<Delete><Object><Key>a<b/></Key></Object></Delete>",
    ):
        assert code_of(s3xml.parse_delete, bad) == "MalformedXML", bad
    empty_version = b"<Delete><Object><Key>a</Key><VersionId/></Object></Delete>"
    assert code_of(s3xml.parse_delete, empty_version) == "InvalidArgument"


def test_parse_complete_multipart_keeps_order() -> None:
    body = request_body(
        "CompleteMultipartUpload", Bucket="b", Key="k", UploadId="u",
        MultipartUpload={"Parts": [
            {"PartNumber": 3, "ETag": '"e3"', "ChecksumCRC32": "c3", "ChecksumSHA256": "s3"},
            {"PartNumber": 1, "ETag": "e1"},
        ]},
    )  # fmt: skip
    assert s3xml.parse_complete_multipart(body) == [
        (3, "e3", {"CRC32": "c3", "SHA256": "s3"}), (1, "e1", {})
    ]  # fmt: skip
    quoted = b"<CompleteMultipartUpload><Part><ETag>&quot;x&quot;</ETag>"
    quoted += b"<PartNumber> 7 </PartNumber></Part></CompleteMultipartUpload>"
    assert s3xml.parse_complete_multipart(quoted) == [(7, "x", {})]
    for part in (
        b"<ETag>e</ETag>",  # no part number
        b"<PartNumber>1</PartNumber>",  # no ETag
        b"<PartNumber>-1</PartNumber><ETag>e</ETag>",
        b"<PartNumber>one</PartNumber><ETag>e</ETag>",
        b"<PartNumber>1</PartNumber><ETag>e</ETag><ChecksumCRC16>x</ChecksumCRC16>",
    ):
        body = b"<CompleteMultipartUpload><Part>" + part + b"</Part></CompleteMultipartUpload>"
        assert code_of(s3xml.parse_complete_multipart, body) == "MalformedXML", part
    assert code_of(s3xml.parse_complete_multipart, b"<CompleteMultipartUpload/>") == (
        "MalformedXML"
    )


def test_parse_versioning() -> None:
    for status in ("Enabled", "Suspended"):
        body = request_body(
            "PutBucketVersioning", Bucket="b",
            VersioningConfiguration={"Status": status, "MFADelete": "Disabled"},
        )  # fmt: skip
        assert b"<MfaDelete>" in body
        assert s3xml.parse_versioning(body) == status
    spelled = b"<VersioningConfiguration><MFADelete>Enabled</MFADelete>"
    spelled += b"<Status>Suspended</Status></VersioningConfiguration>"
    assert s3xml.parse_versioning(spelled) == "Suspended"
    for bad in (b"enabled", b"Disabled", b""):
        body = b"<VersioningConfiguration><Status>" + bad + b"</Status></VersioningConfiguration>"
        assert code_of(s3xml.parse_versioning, body) == "MalformedXML"
    assert code_of(s3xml.parse_versioning, b"<VersioningConfiguration/>") == "MalformedXML"


def _tags_body(tags: list[tuple[str, str]]) -> bytes:
    tag_set = [{"Key": k, "Value": v} for k, v in tags]
    return request_body("PutObjectTagging", Bucket="b", Key="k", Tagging={"TagSet": tag_set})


def test_parse_tagging_limits_and_messages() -> None:
    ten = [(f"k{i}", "v") for i in range(10)]
    assert s3xml.parse_tagging(_tags_body(ten)) == dict(ten)
    assert s3xml.parse_tagging(_tags_body([("é 日本:/=+-@_.", "")])) == {"é 日本:/=+-@_.": ""}
    assert s3xml.parse_tagging(_tags_body([("k" * 128, "v" * 256)])) == {"k" * 128: "v" * 256}
    with pytest.raises(S3XmlError) as too_many:
        s3xml.parse_tagging(_tags_body([*ten, ("k10", "v")]))
    assert (too_many.value.code, too_many.value.message) == (
        "BadRequest", "Object tags cannot be greater than 10"
    )  # fmt: skip
    fifty = [(f"k{i}", "v") for i in range(50)]
    assert len(s3xml.parse_tagging(_tags_body(fifty), bucket=True)) == 50
    assert code_of(s3xml.parse_tagging, _tags_body([*fifty, ("x", "y")]), bucket=True) == (
        "BadRequest"
    )
    cases = {
        "Cannot provide multiple Tags with the same key": [("a", "1"), ("a", "2")],
        "The TagKey you have provided is too long, max 128": [("k" * 129, "v")],
        "The TagValue you have provided is too long, max 256": [("k", "v" * 257)],
        "Your TagKey cannot be prefixed with aws:": [("aws:x", "v")],
        "The TagKey you have provided is invalid": [("a#b", "v")],
        "The TagValue you have provided is invalid": [("k", "v;")],
    }
    for message, tags in cases.items():
        with pytest.raises(S3XmlError) as caught:
            s3xml.parse_tagging(_tags_body(tags))
        assert (caught.value.code, caught.value.message) == ("InvalidTag", message)
    no_value = b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>"
    assert code_of(s3xml.parse_tagging, no_value) == "MalformedXML"
    assert code_of(s3xml.parse_tagging, b"<Tagging/>") == "MalformedXML"


def _cors_body(rules: list[dict[str, Any]]) -> bytes:
    return request_body("PutBucketCors", Bucket="b", CORSConfiguration={"CORSRules": rules})


def test_parse_cors() -> None:
    rule = {"AllowedMethods": ["GET", "DELETE"], "AllowedOrigins": ["https://*.a.example"],
            "AllowedHeaders": ["x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 3000, "ID": "rule 1"}  # fmt: skip
    assert s3xml.parse_cors(_cors_body([rule])) == [
        CorsRule(("GET", "DELETE"), ("https://*.a.example",), ("x-amz-*",),
                 ("ETag", "x-amz-request-id"), 3000, "rule 1")
    ]  # fmt: skip
    minimal = {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}
    assert len(s3xml.parse_cors(_cors_body([minimal] * 100))) == 100
    assert code_of(s3xml.parse_cors, _cors_body([minimal] * 101)) == "MalformedXML"
    with pytest.raises(S3XmlError) as caught:
        s3xml.parse_cors(_cors_body([{**minimal, "AllowedMethods": ["GET", "PATCH"]}]))
    assert caught.value.code == "InvalidRequest" and caught.value.message.endswith("is PATCH")
    twice = {**minimal, "AllowedOrigins": ["http://*.*.x"]}
    assert code_of(s3xml.parse_cors, _cors_body([twice])) == "InvalidRequest"
    no_origin = {"AllowedMethods": ["GET"], "AllowedOrigins": []}
    for bad in (no_origin, {**minimal, "MaxAgeSeconds": -1}):
        assert code_of(s3xml.parse_cors, _cors_body([bad])) == "MalformedXML"


def test_doctype_is_refused_even_when_harmless() -> None:
    plain = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert s3xml.parse_versioning(b'<?xml version="1.0"?><!-- hi -->' + plain) == "Enabled"
    assert code_of(s3xml.parse_versioning, b"<!DOCTYPE VersioningConfiguration>" + plain) == (
        "MalformedXML"
    )
    entity = b'<!DOCTYPE v [<!ENTITY e "Enabled">]><VersioningConfiguration><Status>&e;</Status>'
    assert code_of(s3xml.parse_versioning, entity + b"</VersioningConfiguration>") == (
        "MalformedXML"
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ROOT><Key>&lol3;</Key></ROOT>"""
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ROOT>&x;</ROOT>'
)
PARSERS = {
    "CreateBucketConfiguration": s3xml.parse_create_bucket,
    "Delete": s3xml.parse_delete,
    "CompleteMultipartUpload": s3xml.parse_complete_multipart,
    "VersioningConfiguration": s3xml.parse_versioning,
    "Tagging": s3xml.parse_tagging,
    "CORSConfiguration": s3xml.parse_cors,
}


@pytest.mark.parametrize("root", sorted(PARSERS))
@pytest.mark.parametrize(
    "template",
    [
        BOMB,
        EXTERNAL,
        b"<ROOT",  # truncated
        b"<Wrong/>",
        b"<ROOT>text<X/></ROOT>",
        b'<ROOT xmlns="http://example.com/other/"/>',
        b'<s:ROOT xmlns:s="http://s3.amazonaws.com/doc/2006-03-01/"><y:X xmlns:y="u:y"/></s:ROOT>',
        b'<ROOT><y:Key xmlns:y="u:y"/></ROOT>',
        b"<ROOT>\xff\xfe</ROOT>",  # not UTF-8
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><ROOT/>'.encode("utf-16"),
    ],
)
def test_hostile_or_malformed_bodies_are_refused(root: str, template: bytes) -> None:
    body = template.replace(b"ROOT", root.encode())
    assert code_of(PARSERS[root], body) == "MalformedXML"

"""Error codes shared by handlers (rejections) and the API (responses): code -> HTTP status.

Codes follow S3's names so the S3 protocol layer can answer with them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    name: str
    status: int
    message: str


_CODES = [
    Code("InvalidBucketName", 400, "The specified bucket is not valid."),
    Code("InvalidArgument", 400, "Invalid argument."),
    Code("InvalidRequest", 400, "Invalid request."),
    Code("InvalidURI", 400, "Could not parse the specified URI."),
    Code("KeyTooLongError", 400, "Your key is too long."),
    Code("MalformedJSON", 400, "The JSON you provided was not well-formed."),
    Code(
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    Code("MissingContentLength", 411, "You must provide the Content-Length HTTP header."),
    Code("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."),
    Code(
        "BadDigest",
        400,
        "The Content-MD5 or checksum you specified did not match what was received.",
    ),
    Code("NoSuchUpload", 404, "The specified multipart upload does not exist."),
    Code("NoSuchVersion", 404, "The specified version does not exist."),
    Code("InvalidPart", 400, "One or more of the specified parts could not be found."),
    Code("InvalidPartOrder", 400, "The list of parts was not in ascending order."),
    Code(
        "EntityTooSmall",
        400,
        "Your proposed upload is smaller than the minimum allowed object size.",
    ),
    Code("InvalidTag", 400, "The tag provided was not a valid tag."),
    Code("InvalidStorageClass", 400, "The storage class you specified is not valid."),
    Code(
        "MalformedPOSTRequest",
        400,
        "The body of your POST request is not well-formed multipart/form-data.",
    ),
    Code(
        "MaxPostPreDataLengthExceededError",
        400,
        "Your POST request fields preceding the upload file were too large.",
    ),
    Code("InvalidPolicyDocument", 400, "The content of the form does not meet the conditions."),
    Code(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    ),
    Code("InvalidDigest", 400, "The Content-MD5 you specified is not valid."),
    Code("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist."),
    Code("NoSuchTagSet", 404, "The TagSet does not exist."),
    Code("AccessControlListNotSupported", 400, "The bucket does not allow ACLs"),
    Code(
        "InvalidBucketAclWithObjectOwnership",
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    ),
    Code(
        "MalformedACLError",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    Code("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist"),
    Code(
        "ServerSideEncryptionConfigurationNotFoundError",
        404,
        "The server side encryption configuration was not found",
    ),
    Code(
        "NoSuchWebsiteConfiguration",
        404,
        "The specified bucket does not have a website configuration",
    ),
    Code(
        "ReplicationConfigurationNotFoundError", 404, "The replication configuration was not found"
    ),
    Code(
        "ObjectLockConfigurationNotFoundError",
        404,
        "Object Lock configuration does not exist for this bucket",
    ),
    Code(
        "NoSuchPublicAccessBlockConfiguration",
        404,
        "The public access block configuration was not found",
    ),
    Code("InvalidRange", 416, "The requested range is not satisfiable."),
    Code("Unauthorized", 401, "Authentication is required."),
    Code(
        "InvalidAccessKeyId", 403, "The access key ID you provided does not exist in our records."
    ),
    Code(
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided.",
    ),
    Code("AccessDenied", 403, "Access Denied."),
    Code(
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the server's time is too large.",
    ),
    Code("AuthorizationHeaderMalformed", 400, "The authorization header is malformed."),
    Code("AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."),
    Code("MissingSecurityHeader", 400, "Your request was missing a required header."),
    Code(
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    Code("InvalidLocationConstraint", 400, "The specified location-constraint is not valid."),
    Code(
        "InvalidBucketState", 409, "The request is not valid with the current state of the bucket."
    ),
    Code(
        "NoSuchEntity",
        404,
        "The request was rejected because it referenced an entity that does not exist.",
    ),
    Code(
        "EntityAlreadyExists",
        409,
        "The request was rejected because it attempted to create a resource that already exists.",
    ),
    Code(
        "DeleteConflict",
        409,
        "The request was rejected because it attempted to delete a resource that has attached subordinate entities.",
    ),
    Code(
        "LimitExceeded",
        409,
        "The request was rejected because it attempted to create resources beyond the current AWS account limits.",
    ),
    Code("MalformedPolicyDocument", 400, "The policy document is malformed."),
    Code(
        "ValidationError",
        400,
        "The input fails to satisfy the constraints specified by an AWS service.",
    ),
    Code("InvalidAction", 400, "The action or operation requested is invalid."),
    Code("MissingParameter", 400, "A required parameter for the specified action is not supplied."),
    Code("NoSuchBucketPolicy", 404, "The bucket policy does not exist."),
    Code("MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'."),
    Code("NoSuchBucket", 404, "The specified bucket does not exist."),
    Code("NoSuchKey", 404, "The specified key does not exist."),
    Code("NotFound", 404, "Not found."),
    Code("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
    Code("BucketAlreadyExists", 409, "The requested bucket name is not available."),
    Code(
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    Code("BucketNotEmpty", 409, "The bucket you tried to delete is not empty."),
    Code(
        "PreconditionFailed", 412, "At least one of the preconditions you specified did not hold."
    ),
    Code("InternalError", 500, "We encountered an internal error. Please try again."),
    Code(
        "NotImplemented",
        501,
        "A header you provided implies functionality that is not implemented.",
    ),
    Code(
        "ServiceUnavailable", 503, "The service is not ready to handle the request. Please retry."
    ),
    Code("SlowDown", 503, "Please reduce your request rate."),
]
CODES: dict[str, Code] = {c.name: c for c in _CODES}


def lookup(name: str) -> Code:
    return CODES.get(name) or CODES["InternalError"]

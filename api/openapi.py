"""The OpenAPI 3.1 description of the native JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from mycloud import __version__

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_BUCKET = {"name": "bucket", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 1024},
    "description": "Object key, percent-encoded UTF-8; may contain '/'.",
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Retry-safe command id: the same key is applied once.",
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _PROBLEM for c in codes}


def spec() -> dict[str, Any]:
    bucket = {"$ref": "#/components/schemas/Bucket"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "MyCloud native API", "version": __version__},
        "components": {
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "access key id : secret",
                }
            },
            "schemas": {
                "Bucket": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "region": {"type": "string"},
                        "owner": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Object": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "size": {"type": "integer"},
                        "etag": {"type": "string"},
                        "last_modified": {"type": "string"},
                        "content_type": {"type": "string"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["code", "message", "status"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable error code (S3 names)"},
                        "message": {"type": "string"},
                        "status": {"type": "integer"},
                        "resource": {"type": "string"},
                        "request_id": {"type": "string"},
                        "command_id": {"type": "string"},
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "Error",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        },
        "security": [{"basic": []}],
        "paths": {
            "/buckets": {
                "get": {
                    "summary": "List buckets",
                    "responses": {
                        "200": {
                            "description": "Buckets",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "buckets": {"type": "array", "items": bucket}
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(401, 403),
                    },
                },
                "post": {
                    "summary": "Create a bucket",
                    "parameters": [_IDEMPOTENCY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "region": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Created",
                            "content": {"application/json": {"schema": bucket}},
                        },
                        **_errors(400, 401, 403, 409, 503),
                    },
                },
            },
            "/buckets/{bucket}": {
                "parameters": [_BUCKET],
                "get": {
                    "summary": "Get a bucket",
                    "responses": {
                        "200": {
                            "description": "Bucket",
                            "content": {"application/json": {"schema": bucket}},
                        },
                        **_errors(404),
                    },
                },
                "delete": {
                    "summary": "Delete an empty bucket",
                    "parameters": [_IDEMPOTENCY],
                    "responses": {"204": {"description": "Deleted"}, **_errors(404, 409, 503)},
                },
            },
            "/buckets/{bucket}/objects": {
                "parameters": [_BUCKET],
                "get": {
                    "summary": "List objects (paginated, byte order of keys)",
                    "parameters": [
                        {"name": "prefix", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "objects": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Object"},
                                            },
                                            "is_truncated": {"type": "boolean"},
                                            "next_cursor": {"type": ["string", "null"]},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(400, 404),
                    },
                },
            },
            "/buckets/{bucket}/objects/{key}": {
                "parameters": [_BUCKET, _KEY],
                "put": {
                    "summary": "Upload an object (streamed; x-amz-meta-* headers are metadata)",
                    "parameters": [
                        _IDEMPOTENCY,
                        {"name": "Content-MD5", "in": "header", "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}
                    },
                    "responses": {"200": {"description": "Stored"}, **_errors(400, 404, 411, 503)},
                },
                "get": {
                    "summary": "Download an object (Range, If-Match, If-None-Match, ...)",
                    "parameters": [{"name": "Range", "in": "header", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "The bytes"},
                        "206": {"description": "A range"},
                        "304": {"description": "Not modified"},
                        **_errors(404, 412, 416),
                    },
                },
                "head": {
                    "summary": "Object metadata",
                    "responses": {"200": {"description": "Headers only"}, **_errors(404)},
                },
                "delete": {
                    "summary": "Delete an object",
                    "parameters": [_IDEMPOTENCY],
                    "responses": {"204": {"description": "Deleted"}, **_errors(404, 503)},
                },
            },
            "/healthz": {
                "get": {
                    "summary": "200 when every role is up",
                    "security": [],
                    "responses": {"200": {"description": "ok"}, "503": {"description": "degraded"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of every API worker (label worker)",
                    "security": [],
                    "responses": {"200": {"description": "text"}},
                }
            },
        },
    }

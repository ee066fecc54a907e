"""Errors of the HTTP API as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from http import HTTPStatus

import orjson
from starlette.responses import Response

PROBLEM_TYPE = "application/problem+json"
INVALID_ANSWERS = "urn:triage:problem:invalid-answers"
"""The type of the problem a single invalid answer record gives; it carries the record's errors."""
UNREADABLE_BODY = "urn:triage:problem:unreadable-body"
"""The type of the problem a body that holds no records gives (not JSON, not UTF-8, empty)."""


def problem(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: object,
) -> Response:
    """A problem details response.

    With the default type the title is the status's phrase (RFC 9457 §4.2.1).
    """
    body: dict[str, object] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


PROBLEM_SCHEMA: dict[str, object] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
    },
    "required": ["type", "title", "status"],
}
"""The JSON Schema of a problem details object (extension members allowed)."""

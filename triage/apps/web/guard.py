"""The outermost layer of the app: security headers, body limits, read timeouts, access log.

It wraps the whole Starlette app, error pages included, so every response —
a page, a problem, a static file, a 404, a 500 — carries the headers. The body
is read here, before the app sees it, within a size limit and a time limit;
the app then gets it whole.

The access log names the method, the route, the status and the time taken:
never a query string, a header or a body, and never a path that is not one of
the app's own routes (it is logged as `(other)`), so that nothing a person
answered, and nothing a stranger typed, is written to it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""No inline script or style, nothing from another site, no framing, forms post only here."""
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
DEFAULT_CACHE = b"no-store"
"""Cache-Control of a response that sets none (an error, say)."""
_REPLACED = {name for name, _ in SECURITY_HEADERS} | {b"server"}
_STATIC_NAME = re.compile(r"/static/[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_log = logging.getLogger("triage.web.access")

Reject = Callable[[Scope, int, str], Response]
"""Makes the response for a request refused before the app sees it (a problem, or a page)."""


@dataclass(frozen=True)
class Limits:
    """How much a request may send, and how long it may take to send it."""

    body_bytes: Callable[[str], int]
    """The largest body for a path."""
    read_seconds: float = 10.0
    """The longest time to receive the whole body (a slow sender holds a connection)."""


class Guard:
    """ASGI middleware around the whole app: see the module's docstring."""

    def __init__(self, app: ASGIApp, limits: Limits, reject: Reject, routes: Collection[str]) -> None:
        self.app = app
        self.limits = limits
        self.reject = reject
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = with_security_headers(message.get("headers", []))
            await send(message)

        try:
            body = await self.read_body(scope, receive)
            if isinstance(body, Response):
                await body(scope, receive, send_guarded)
                return
            await self.app(scope, _replay(body, receive), send_guarded)
        except Exception:
            # The app's own error page failed too: a plain answer, never a traceback.
            if status:
                raise
            await Response("Internal Server Error", status_code=500)(scope, receive, send_guarded)
            raise
        finally:
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"] if scope["method"] in _METHODS else "(other)",
                self.logged_path(scope["path"]),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )

    async def read_body(self, scope: Scope, receive: Receive) -> bytes | Response:
        """The whole request body, or the response refusing it (too large, too slow, malformed)."""
        limit = self.limits.body_bytes(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return self.reject(scope, 400, "The Content-Length header is not a number.")
                if int(value) > limit:
                    return self.reject(scope, 413, f"The body is larger than {limit:,} bytes.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.read_seconds
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                return self.reject(scope, 408, "The body took too long to arrive.")
            if message["type"] == "http.disconnect":
                return Response(status_code=400)  # no one is listening any more
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return self.reject(scope, 413, f"The body is larger than {limit:,} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def logged_path(self, path: str) -> str:
        """The path as the access log shows it: one of the app's routes, or `(other)`."""
        if path in self.routes or _STATIC_NAME.fullmatch(path):
            return path
        return "(other)"


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security headers set (and no Server header)."""
    kept = [(name, value) for name, value in headers if name.lower() not in _REPLACED]
    if not any(name.lower() == b"cache-control" for name, _ in kept):
        kept.append((b"cache-control", DEFAULT_CACHE))
    return kept + list(SECURITY_HEADERS)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A `receive` that gives the body already read, then waits for the client to go away."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

"""The web app for one rule pack: the pages, the API, static files, and what wraps them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from triage.apps.web.api import Api
from triage.apps.web.guard import Guard, Limits
from triage.apps.web.pages import FORM_PAGE_CACHE, CrossSite, Pages
from triage.apps.web.problems import problem
from triage.apps.web.state import StateError
from triage.apps.web.views import environment, error_page
from triage.core.pack import RulePack

STATIC = Path(__file__).parent / "static"
API_BODY_BYTES = 1 << 20
"""The largest body of an API request (1 MiB: thousands of records); for more, `triage evaluate`."""
FORM_BODY_BYTES = 64 << 10
"""The largest body of a page's form (64 KiB; a page's answers take well under 2 KiB)."""

log = logging.getLogger("triage.web")

_PAGE_ERRORS = {
    400: ("Your answers could not be read", "The page sent something this service cannot read."),
    403: ("This page cannot be sent from another site", "Please fill in the questions on this site."),
    404: ("Page not found", "There is no page at this address."),
    405: (
        "This page needs your answers",
        "Your answers are not kept, so this page cannot be opened on its own. Please start again.",
    ),
    408: ("The page took too long to arrive", "Please try again."),
    413: ("Too much was sent", "The page sent more than this service accepts."),
    415: ("Your answers could not be read", "The page was not sent as a form."),
    500: (
        "Sorry, there is a problem with the service",
        "Nothing you answered was kept. Please try again later.",
    ),
}


def is_api(path: str) -> bool:
    """Whether a path belongs to the API (its errors are problem+json, not pages)."""
    return path.startswith("/api/") or path in ("/openapi.json", "/healthz")


class _Static(StaticFiles):
    """Static files, checked again before each use (they change only with a new version)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = "no-cache"
        return response


def create_app(pack: RulePack, *, form_page_cache: str = FORM_PAGE_CACHE) -> ASGIApp:
    """The ASGI app serving `pack`: pages at /, the API under /api/v1, and /static.

    `form_page_cache` is the Cache-Control of the question pages (bench/back_button.py compares).
    """
    templates = environment()
    pages = Pages(pack, templates, form_cache=form_page_cache)
    api = Api(pack)

    def refuse(path: str, status: int, detail: str) -> Response:
        if is_api(path):
            return problem(status, detail)
        title, message = _PAGE_ERRORS.get(status, _PAGE_ERRORS[400])
        return pages.render(error_page(pack, status, title, message), cache="no-store")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = refuse(request.url.path, exc.status_code, exc.detail)
        if exc.status_code == 405 and exc.headers:
            response.headers["allow"] = exc.headers.get("Allow", "")
        return response

    async def state_error(request: Request, exc: Exception) -> Response:
        return pages.render(
            error_page(pack, 400, "Your answers could not be read", f"Nothing was evaluated: {exc}"),
            cache="no-store",
        )

    async def cross_site(request: Request, exc: Exception) -> Response:
        return refuse(request.url.path, 403, "")

    async def server_error(request: Request, exc: Exception) -> Response:
        # The traceback goes to the server's log; the person sees a plain page.
        log.error("an error on %s: %s", request.method, type(exc).__name__)
        return refuse(request.url.path, 500, "The server could not answer this request.")

    routes = [*pages.routes(), *api.routes()]
    app = Starlette(
        debug=False,
        routes=[*routes, Mount("/static", app=_Static(directory=STATIC), name="static")],
        exception_handlers={
            HTTPException: http_error,
            StateError: state_error,
            CrossSite: cross_site,
            Exception: server_error,
        },
    )
    limits = Limits(body_bytes=lambda path: API_BODY_BYTES if is_api(path) else FORM_BODY_BYTES)
    paths = [route.path for route in routes if hasattr(route, "path")]
    return Guard(app, limits, lambda scope, status, detail: refuse(scope["path"], status, detail), paths)

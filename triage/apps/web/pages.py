"""The questionnaire as web pages: one question a page, Check your answers, the result.

Every page after the start page is the answer to a POST whose body carries the
answers so far (`triage.apps.web.state`): nothing is stored on the server, nothing
is put in a URL, and no cookie is needed. The flow — which question comes next,
what a change drops, when a red flag ends the questionnaire — is `triage.core.flow`'s,
the same as in the terminal. The result is `triage.evaluate`'s.
"""

from __future__ import annotations

from typing import Literal

from jinja2 import Environment
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import triage
from triage.apps.web.state import StateError, read_state
from triage.apps.web.views import (
    Back,
    Page,
    Shown,
    check_page,
    choices_error,
    question_page,
    result_page,
    shown_answer,
    start_page,
)
from triage.core.flow import Flow, parse_number, selection_value
from triage.core.pack import NONE, Question, RulePack
from triage.io.answerfile import dump_record

FORM_PAGE_CACHE = "private, no-cache"
"""Cache-Control of the question pages and Check your answers (docs/SAFETY.md H37 says why)."""
RESULT_CACHE = "no-store"
"""Cache-Control of the result page and of the downloads: never kept by the browser."""
START_CACHE = "no-cache"
MAX_FIELD_BYTES = 4096
"""The longest form field (name and value) a page accepts."""
FORM_TYPE = "application/x-www-form-urlencoded"

Destination = Question | Literal["check", "start"]


class CrossSite(Exception):
    """A page was posted from another site (a forged request)."""


def destination(flow: Flow, page: Question | Literal["check", "result"]) -> Destination:
    """Where the back link of a page leads.

    From a question: back to Check your answers when it was opened from there
    (every question is answered), else to the question answered before it, or
    to the start page. From Check your answers: the last question. From the
    result: Check your answers, or the first question when a red flag ended the
    questionnaire at once.
    """
    answered = list(flow.answers)
    if page == "result":
        if flow.ended_at_first_answer:
            return flow.pack.questions[answered[0]]
        return "check"
    if page == "check":
        return flow.pack.questions[answered[-1]] if answered else "start"
    if flow.complete and not flow.ended_at_first_answer:
        return "check"
    order = list(flow.pack.questions)
    before = [q for q in answered if order.index(q) < order.index(page.id)]
    return flow.pack.questions[before[-1]] if before else "start"


class Pages:
    """The page endpoints for one rule pack."""

    def __init__(self, pack: RulePack, templates: Environment, *, form_cache: str = FORM_PAGE_CACHE) -> None:
        self.pack = pack
        self.templates = templates
        self.form_cache = form_cache
        # Every carried answer is a field: at most one per option (or value) of every question, twice.
        self.max_fields = 2 * sum(max(len(q.options), 1) + 1 for q in pack.document.questions) + 8

    def routes(self) -> list[Route]:
        """The routes of the pages."""
        return [
            Route("/", self.start, methods=["GET"]),
            Route("/start", self.first, methods=["GET"]),
            Route("/answer", self.answer, methods=["POST"]),
            Route("/back", self.back, methods=["POST"]),
            Route("/change", self.change, methods=["POST"]),
            Route("/result", self.result, methods=["POST"]),
            Route("/download/answers.json", self.download, methods=["POST"]),
            Route("/download/answers.fhir.json", self.download, methods=["POST"]),
        ]

    # -- rendering -----------------------------------------------------------------------------------

    def render(self, page: Page, cache: str | None = None) -> HTMLResponse:
        """A page as HTML; a question page or the check unless told another Cache-Control."""
        html = self.templates.get_template(page.template).render(page.context)
        headers = {"Cache-Control": cache or self.form_cache}
        return HTMLResponse(html, status_code=page.status, headers=headers)

    def ask(
        self, flow: Flow, question: Question, *, shown: Shown | None = None, error: str | None = None
    ) -> Response:
        """The page of one question, pre-filled with the earlier answer unless told what to show."""
        if shown is None:
            shown = shown_answer(question, flow.default(question.id))
        back = Back(to_start=destination(flow, question) == "start", question=question.id)
        return self.render(question_page(self.pack, flow, question, back, shown=shown, error=error))

    def next_page(self, flow: Flow) -> Response:
        """After an answer: the next question, else the result at once (a red flag), else the check."""
        question = flow.next_question()
        if question is not None:
            return self.ask(flow, question)
        if flow.ended_at_first_answer:
            return self.show_result(flow)
        return self.render(check_page(self.pack, flow, Back(to_start=False, action="check")))

    def show_result(self, flow: Flow) -> Response:
        """The result of a complete flow, evaluated by the library from its answer record."""
        result = triage.evaluate(flow.record(), rulepack=self.pack)
        back = Back(to_start=False, action="result")
        return self.render(result_page(self.pack, flow, result, back), cache=RESULT_CACHE)

    # -- endpoints -----------------------------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        """GET /: the start page."""
        return self.render(start_page(self.pack), cache=START_CACHE)

    async def first(self, request: Request) -> Response:
        """GET /start: the first question, with no answers yet."""
        flow = Flow(self.pack)
        question = flow.next_question()
        assert question is not None  # a pack has at least one question, asked always
        return self.ask(flow, question)

    async def answer(self, request: Request) -> Response:
        """POST /answer: take the answer to one question, then show what comes next."""
        flow, controls = await self.state(request)
        question = self.question(controls)
        if question.id not in flow.answers and flow.next_question() is not question:
            raise StateError(f"the question {question.id} is not asked at this point.")
        given = controls.get("answer", [])
        if question.type == "number":
            typed = given[0] if len(given) == 1 else ""
            try:
                number = parse_number(question, typed)
            except ValueError as exc:
                return self.ask(flow, question, shown=Shown(typed=typed), error=str(exc))
            flow.answer(question.id, number)
        else:
            error = choices_error(question, given)
            if error is not None:
                known = {*question.option_ids(), NONE}
                return self.ask(flow, question, shown=Shown(chosen=set(given) & known), error=error)
            flow.answer(question.id, given[0] if question.type == "single" else selection_value(given))
        return self.next_page(flow)

    async def back(self, request: Request) -> Response:
        """POST /back: the page before, with the answers kept."""
        flow, controls = await self.state(request)
        if "question" in controls:
            where = destination(flow, self.question(controls))
        else:
            page = self.control(controls, "action")
            if page not in ("check", "result"):
                raise StateError("the back link does not say which page it is on.")
            where = destination(flow, page)  # type: ignore[arg-type]  # checked just above
        if where == "start":
            return RedirectResponse("/", status_code=303)
        if where == "check":
            if not flow.complete:
                return self.next_page(flow)
            return self.render(check_page(self.pack, flow, Back(to_start=False, action="check")))
        return self.ask(flow, where)

    async def change(self, request: Request) -> Response:
        """POST /change: open an answered question again, pre-filled; Continue comes back to the check."""
        flow, controls = await self.state(request)
        question = self.question(controls)
        if question.id not in flow.answers:
            raise StateError(f"the question {question.id} has no answer to change.")
        return self.ask(flow, question)

    async def result(self, request: Request) -> Response:
        """POST /result: the result, once every question asked is answered."""
        flow, _ = await self.state(request)
        if not flow.complete:
            return self.next_page(flow)
        return self.show_result(flow)

    async def download(self, request: Request) -> Response:
        """POST /download/answers(.fhir).json: the answers as an answer file to keep."""
        flow, _ = await self.state(request)
        if not flow.complete:
            raise StateError("the answers are not complete, so there is nothing to download yet.")
        fhir = request.url.path.endswith(".fhir.json")
        text = dump_record(flow.record(), "fhir" if fhir else "json", self.pack)
        name = "answers.fhir.json" if fhir else "answers.json"
        return Response(
            text,
            media_type="application/fhir+json" if fhir else "application/json",
            headers={"Cache-Control": RESULT_CACHE, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- reading a posted page -----------------------------------------------------------------------

    async def state(self, request: Request) -> tuple[Flow, dict[str, list[str]]]:
        """The flow the posted form carries, and the page's own fields; the form is read within limits."""
        _refuse_cross_site(request)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != FORM_TYPE:
            raise HTTPException(415, "This page takes a form (application/x-www-form-urlencoded).")
        form = await request.form(max_files=0, max_fields=self.max_fields, max_part_size=MAX_FIELD_BYTES)
        fields: list[tuple[str, str]] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):  # pragma: no cover - a urlencoded form has no files
                raise StateError("the form holds a file.")
            fields.append((name, value))
        return read_state(fields, self.pack)

    def question(self, controls: dict[str, list[str]]) -> Question:
        """The question a posted page is about."""
        question = self.pack.questions.get(self.control(controls, "question"))
        if question is None:
            raise StateError("the form names a question this service does not ask.")
        return question

    @staticmethod
    def control(controls: dict[str, list[str]], name: str) -> str:
        """One of the page's own fields, given once."""
        values = controls.get(name, [])
        if len(values) != 1:
            raise StateError(f"the form must give {name} once.")
        return values[0]


def _refuse_cross_site(request: Request) -> None:
    """Pages are posted only from this site's own pages: a forged post could show a person a
    result for answers they never gave. Browsers say where a post comes from: Sec-Fetch-Site,
    and Origin (which is "null" from our own pages, sent with Referrer-Policy: no-referrer)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CrossSite
    origin = request.headers.get("origin")
    if origin not in (None, "null", f"{request.url.scheme}://{request.url.netloc}"):
        raise CrossSite

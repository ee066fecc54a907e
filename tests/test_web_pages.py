"""The pages without a browser: every answer set walked through the forms, tampering, limits, headers.

`Walker` fills in the pages as a browser without a script does: it reads each
page's form and posts it back with the answer chosen, hidden fields and all.
"""

from __future__ import annotations

import re
import shutil
from html import escape
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="needs the web extra")

from samples import FSHD, PARALYSIS
from starlette.testclient import TestClient
from web_support import Form, forms, heading, iter_values, main_form, pairs_to_data

import triage
from triage.apps.web import guard
from triage.apps.web.app import FORM_BODY_BYTES, create_app
from triage.core.answerspace import answer_space
from triage.core.errors import answers_record
from triage.core.vocabulary import AnswerValue

DATA = Path(__file__).parent / "data"
SECURITY = {
    "content-security-policy": guard.CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class Walker:
    """A person without a script: reads each page's form and sends it back."""

    def __init__(self, client: TestClient, pack: triage.RulePack) -> None:
        self.client = client
        self.pack = pack
        self.html = ""
        self.response: Any = None

    def get(self, path: str) -> str:
        self.response = self.client.get(path)
        self.html = self.response.text
        return self.html

    def submit(self, form: Form, extra: list[tuple[str, str]], action: str | None = None) -> str:
        self.response = self.client.post(action or form.action, data=pairs_to_data([*form.hidden(), *extra]))
        self.html = self.response.text
        return self.html

    def answer(self, value: AnswerValue) -> str:
        form = main_form(self.html)
        return self.submit(form, [("answer", v) for v in iter_values(value)])

    def walk(self, values: dict[str, AnswerValue]) -> list[str]:
        """Answer each question asked from these values; return the headings seen, last one included."""
        self.get("/start")
        seen = []
        prompts = {q.prompt: q.id for q in self.pack.document.questions}
        for _ in range(len(self.pack.questions) + 1):
            title = heading(self.html)
            seen.append(title)
            if title not in prompts:
                break
            self.answer(values[prompts[title]])
        return seen

    def see_result(self) -> str:
        assert heading(self.html) == "Check your answers"
        return self.submit(main_form(self.html), [])

    def change(self, question: str) -> str:
        return self.submit(main_form(self.html), [("question", question)], action="/change")

    def back(self) -> str:
        return self.submit(next(f for f in forms(self.html) if f.action == "/back"), [])


def shown(html: str) -> dict[str, object]:
    """The ids a result page shows."""
    return {
        "urgency": re.search(r'data-urgency="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "prognosis": re.search(r'data-prognosis="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "suggestions": re.findall(r'data-suggestion="([^"]+)"', html),
        "rules": re.findall(r'data-rule="([^"]+)"', html),
    }


def library(record: dict[str, object], pack: triage.RulePack) -> dict[str, object]:
    result = triage.evaluate(record, rulepack=pack)
    return {
        "urgency": result.urgency,
        "prognosis": result.prognosis.category,
        "suggestions": [s.id for s in result.suggestions],
        "rules": [e.rule for e in result.explanation],
    }


@pytest.fixture(scope="module")
def client(pack: triage.RulePack) -> TestClient:
    return TestClient(create_app(pack))


@pytest.mark.parametrize("pack_path", [None, DATA / "packs" / "valid"], ids=["bundled", "mini"])
def test_every_answer_set_walked_through_the_pages_gives_the_librarys_result(pack_path: Path | None) -> None:
    """For every complete answer set: exactly its questions are asked, in order, one a page; a red flag
    ends at once; otherwise Check your answers; and the result shown is the library's."""
    pack = triage.load_rulepack(pack_path)
    walker = Walker(TestClient(create_app(pack)), pack)
    for values in answer_space(pack):
        seen = walker.walk(values)
        asked = [pack.questions[q].prompt for q in values]
        assert seen[: len(asked)] == asked
        record = answers_record(values)
        if seen[-1] == "Check your answers":
            walker.see_result()
        else:
            assert len(values) == 1
            assert seen[-1] == "Your result"
        assert walker.response.headers["cache-control"] == "no-store"
        assert shown(walker.html) == library(record, pack), record


def test_a_change_asks_what_it_newly_needs_then_returns_to_the_check(
    client: TestClient, pack: triage.RulePack
) -> None:
    """Changing the cause from a paralysis to an inherited disease drops the paralysis questions;
    changing it to another cause asks the two questions that cause needs, then the check."""
    walker = Walker(client, pack)
    walker.walk({**PARALYSIS, "red_flags": frozenset()})
    walker.change("cause")
    assert heading(walker.html) == pack.questions["cause"].prompt
    assert 'value="peripheral_facial_paralysis" checked' in walker.html
    walker.answer("fshd")
    assert heading(walker.html) == "Check your answers"
    assert "months" not in walker.html
    walker.change("cause")
    walker.answer("other")
    assert heading(walker.html) == pack.questions["worsening"].prompt
    walker.answer("no")
    assert heading(walker.html) == pack.questions["related_findings"].prompt
    walker.answer(frozenset({"family_history"}))
    assert heading(walker.html) == "Check your answers"
    walker.see_result()
    record = {
        "red_flags": [],
        "cause": "other",
        "severity": "mild",
        "worsening": "no",
        "related_findings": ["family_history"],
    }
    assert shown(walker.html) == library(record, pack)


def test_a_red_flag_set_on_the_check_shows_the_result_at_once(
    client: TestClient, pack: triage.RulePack
) -> None:
    walker = Walker(client, pack)
    walker.walk({**FSHD, "red_flags": frozenset()})
    walker.change("red_flags")
    walker.answer(frozenset({"sudden_onset"}))
    assert heading(walker.html) == "Your result"
    assert shown(walker.html) == library({"red_flags": ["sudden_onset"]}, pack)


def test_back_links_lead_to_the_page_before(client: TestClient, pack: triage.RulePack) -> None:
    """Back from a question: the question before, pre-filled; from the first: the start page; from the
    check: the last question; from the result: the check."""
    walker = Walker(client, pack)
    walker.get("/start")
    assert '<a href="/" class="back-link">Back</a>' in walker.html
    walker.answer(frozenset())
    walker.answer("fshd")
    walker.back()
    assert heading(walker.html) == pack.questions["cause"].prompt
    assert 'value="fshd" checked' in walker.html
    walker.back()
    assert heading(walker.html) == pack.questions["red_flags"].prompt
    assert 'value="none" checked' in walker.html
    walker.walk({**FSHD, "red_flags": frozenset()})
    walker.back()
    assert heading(walker.html) == pack.questions["severity"].prompt
    walker.answer("mild")
    walker.see_result()
    walker.back()
    assert heading(walker.html) == "Check your answers"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ([("a.colour", "red")], "does not ask"),
        ([("a.red_flags", "none"), ("a.cause", "broken")], "not valid"),
        ([("a.red_flags", "none"), ("a.cause", "fshd"), ("a.cause", "opmd")], "more than once"),
        (
            [
                ("a.red_flags", "none"),
                ("a.cause", "peripheral_facial_paralysis"),
                ("a.months_since_paralysis", "99999"),
            ],
            "not valid",
        ),
        ([("evil", "<script>alert(1)</script>")], "does not use"),
        ([("a.<script>", "x")], "&lt;script&gt;"),
    ],
    ids=["unknown-question", "unknown-option", "twice", "out-of-range", "unknown-field", "escaped"],
)
def test_carried_answers_are_read_again_and_never_trusted(
    client: TestClient, fields: list[tuple[str, str]], says: str
) -> None:
    """A changed hidden field is refused with a page saying so (400): nothing is evaluated."""
    response = client.post("/result", data=pairs_to_data(fields))
    assert response.status_code == 400
    assert says in response.text
    assert "<script>" not in response.text
    assert "Traceback" not in response.text


def test_answers_to_questions_not_asked_are_dropped(client: TestClient, pack: triage.RulePack) -> None:
    """Carried answers for questions the other answers do not ask play no part, as in the terminal."""
    carried = [("a.red_flags", "none"), ("a.cause", "fshd"), ("a.severity", "mild"), ("a.worsening", "yes")]
    response = client.post("/result", data=pairs_to_data(carried))
    assert shown(response.text) == library(FSHD, pack)
    assert "a.worsening" not in response.text


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "Please answer. Type a whole number of months, from 0 to 1200."),
        (["-3"], "Too small. Type a whole number of months, from 0 to 1200."),
        (["2.5"], "Not a whole number. Type a whole number of months, from 0 to 1200."),
        (["9" * 3000], "Too large. Type a whole number of months, from 0 to 1200."),
        (["1", "2"], "Please answer. Type a whole number of months, from 0 to 1200."),
    ],
    ids=["nothing", "negative", "fraction", "huge", "twice"],
)
def test_a_wrong_number_is_shown_again_with_the_error(
    client: TestClient, answer: list[str], message: str
) -> None:
    carried = [("a.red_flags", "none"), ("a.cause", "central_facial_paralysis"), ("a.severity", "mild")]
    data = pairs_to_data([*carried, ("question", "months_since_paralysis"), *(("answer", a) for a in answer)])
    response = client.post("/answer", data=data)
    assert response.status_code == 422
    assert "<title>Error: " in response.text
    assert "There is a problem" in response.text
    assert response.text.count(message) == 2  # in the summary and beside the box


def test_a_question_out_of_turn_is_refused(client: TestClient) -> None:
    """Only the next question, or one already answered, can be answered."""
    data = pairs_to_data([("a.red_flags", "none"), ("question", "severity"), ("answer", "mild")])
    assert client.post("/answer", data=data).status_code == 400


def test_form_limits(client: TestClient, pack: triage.RulePack) -> None:
    """Too large a body (413), too many fields or too long a field (400), not a form (415), from
    another site (403), a page opened without its answers (405): each a page, none a traceback."""
    big = client.post(
        "/answer",
        content=b"a=" + b"x" * FORM_BODY_BYTES,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    many = client.post(
        "/answer",
        content=b"&".join([b"a.red_flags=none"] * 500),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 400
    long = client.post("/answer", data={"question": "x" * 5000})
    assert long.status_code == 400
    multipart = client.post("/answer", files={"answer": ("a.txt", b"none")})
    assert multipart.status_code == 415
    forged = client.post(
        "/answer", data={"question": "red_flags", "answer": "none"}, headers={"sec-fetch-site": "cross-site"}
    )
    assert forged.status_code == 403
    other_origin = client.post(
        "/answer", data={"question": "red_flags", "answer": "none"}, headers={"origin": "http://evil.example"}
    )
    assert other_origin.status_code == 403
    opened = client.get("/result")
    assert opened.status_code == 405
    assert "Your answers are not kept" in opened.text
    for response in (big, many, long, multipart, forged, other_origin, opened):
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text
        assert "Start again" in response.text


def test_pages_hold_no_inline_script_or_style_and_no_answers_in_links(
    client: TestClient, pack: triage.RulePack
) -> None:
    """The CSP forbids inline script and style: no page has any; every form posts; no link carries a query."""
    walker = Walker(client, pack)
    pages = [walker.get("/"), walker.get("/start")]
    for values in ({**PARALYSIS, "red_flags": frozenset()}, {"red_flags": frozenset({"stroke_signs"})}):
        walker.walk(values)
        pages.append(walker.html)
        if heading(walker.html) == "Check your answers":
            pages.append(walker.see_result())
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"\sstyle=", html)
        assert not re.search(r"\son[a-z]+=", html)
        assert all(m == "post" for m in re.findall(r'<form method="([^"]+)"', html))
        assert not re.search(r'href="[^"]*\?', html)
        assert re.search(r'<html lang="en">', html)


def test_every_response_carries_the_security_headers_and_no_cookie(
    client: TestClient, pack: triage.RulePack
) -> None:
    """Pages, errors, static files, the API, problems: every response."""
    responses = [
        client.get("/"),
        client.get("/start"),
        client.get("/static/app.css"),
        client.get("/static/nothing.css"),
        client.get("/nowhere"),
        client.get("/answer"),
        client.post("/answer", data={"question": "red_flags", "answer": "none"}),
        client.post("/result", data={"evil": "1"}),
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.post("/api/v1/evaluate", json=FSHD),
        client.post("/api/v1/evaluate", content=b"x", headers={"content-type": "text/plain"}),
        client.head("/"),
    ]
    for response in responses:
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, (response.url, name)
        assert "set-cookie" not in response.headers
        assert "server" not in response.headers
        assert "cache-control" in response.headers
    assert responses[2].headers["cache-control"] == "no-cache"


def test_an_error_in_the_app_is_a_plain_page_with_the_headers(
    pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug shows "Sorry, there is a problem" (500), never a traceback, with every header."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a secret detail: cause=fshd")

    monkeypatch.setattr(triage, "evaluate", broken)
    client = TestClient(create_app(pack), raise_server_exceptions=False)
    response = client.post(
        "/result", data=pairs_to_data([("a.red_flags", "none"), ("a.cause", "fshd"), ("a.severity", "mild")])
    )
    assert response.status_code == 500
    assert "Sorry, there is a problem" in response.text
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["content-security-policy"] == guard.CSP


def test_downloads_are_the_answer_files_triage_reads(
    client: TestClient, pack: triage.RulePack, tmp_path: Path
) -> None:
    """ "Download my answers": the answer record as JSON, and as a FHIR QuestionnaireResponse; both
    evaluate to the result shown."""
    import json

    from triage.fhir import records_from_fhir

    carried = pairs_to_data([("a.red_flags", "none"), ("a.cause", "fshd"), ("a.severity", "mild")])
    plain = client.post("/download/answers.json", data=carried)
    assert plain.headers["content-disposition"] == 'attachment; filename="answers.json"'
    assert plain.headers["cache-control"] == "no-store"
    assert json.loads(plain.text) == FSHD
    fhir = client.post("/download/answers.fhir.json", data=carried)
    [(_, record)] = records_from_fhir(json.loads(fhir.text), pack)
    assert isinstance(record, dict)
    assert triage.evaluate(record, rulepack=pack) == triage.evaluate(FSHD, rulepack=pack)
    incomplete = client.post("/download/answers.json", data=pairs_to_data([("a.red_flags", "none")]))
    assert incomplete.status_code == 400


def test_pack_texts_are_escaped(tmp_path: Path) -> None:
    """A pack whose texts hold markup shows it as text: the pages escape everything."""
    folder = tmp_path / "pack"
    shutil.copytree(triage.load_rulepack().path.parent, folder)
    pack_file = folder / "pack.yaml"
    text = pack_file.read_text(encoding="utf-8")
    text = re.sub(r"label: (Signs of a stroke.*)", r'label: "<img src=x onerror=alert(1)> \1"', text)
    text = text.replace("title: Facial atrophy triage", 'title: "<script>alert(1)</script> triage"')
    pack_file.write_text(text, encoding="utf-8")
    client = TestClient(create_app(triage.load_rulepack(folder)))
    for page in (client.get("/").text, client.get("/start").text):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; Signs of a stroke" in client.get("/start").text


def test_a_safety_net_is_shown_when_the_result_has_one(pack: triage.RulePack) -> None:
    """Packs from 2.0 on give each urgency level below the most urgent a safety net (when to get help
    sooner): the care card shows it after the action; a result without one shows none."""
    from triage.apps.web.views import Back, environment, result_page
    from triage.core.flow import Flow

    flow = Flow.resume(pack, {"red_flags": frozenset(), "cause": "fshd", "severity": "mild"})
    result = triage.evaluate(flow.record(), rulepack=pack)
    net = result.urgency_advice.safety_net
    assert net
    templates = environment()
    back = Back(to_start=False, action="result")

    def html(shown: triage.Result) -> str:
        page = result_page(pack, flow, shown, back)
        return templates.get_template(page.template).render(page.context)

    with_net = html(result)
    assert f"<strong>Get help sooner:</strong> {escape(net)}" in with_net
    assert with_net.index("care-card__action") < with_net.index("Get help sooner")
    without = result.urgency_advice.model_copy(update={"safety_net": None})
    assert "Get help sooner" not in html(result.model_copy(update={"urgency_advice": without}))


def test_a_body_that_takes_too_long_is_408() -> None:
    """A sender that stops sending holds its connection no longer than the read limit."""
    import asyncio
    import concurrent.futures

    from starlette.responses import PlainTextResponse

    async def never() -> dict[str, object]:
        await asyncio.sleep(3600)
        return {}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the app must not be called")

    guarded = guard.Guard(
        app,  # type: ignore[arg-type]
        guard.Limits(body_bytes=lambda path: 100, read_seconds=0.1),
        lambda scope, status, detail: PlainTextResponse(detail, status_code=status),
        [],
    )
    scope = {"type": "http", "method": "POST", "path": "/answer", "headers": [], "query_string": b""}
    # In a thread of its own: the session's browser (Playwright) keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, guarded(scope, never, send)).result()  # type: ignore[arg-type]
    assert sent[0]["status"] == 408

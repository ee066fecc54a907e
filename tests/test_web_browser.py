"""The pages as a person uses them: the real server, Chromium, and the keyboard only.

Each path is walked in three browsers: a desktop with JavaScript, a phone 375
pixels wide with JavaScript, and a phone with JavaScript off. Every page is
scanned with axe-core for WCAG 2.2 AA (target size included) where JavaScript
runs, checked for sideways scrolling and for Content-Security-Policy reports,
and saved as a screenshot under test-output/web/ for review. The result the
browser shows must be the library's for the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from web_support import OUTPUT, Served

import triage

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "rules": {"target-size": {"enabled": True}},
    "resultTypes": ["violations"],
}
"""WCAG 2.2 AA, and the target-size rule that axe leaves off unless asked."""
TABS = 60
"""Most Tab presses to reach anything on a page."""
SCANNED: set[tuple[str, str, bool]] = set()
"""Pages already saved as screenshots (device, heading, with an error): each once a session."""
AXED: set[tuple[str, str, bool]] = set()
"""Pages already scanned with axe, likewise."""


@dataclass(frozen=True)
class Device:
    name: str
    width: int
    height: int
    javascript: bool


DEVICES = [
    Device("desktop", 1280, 900, True),
    Device("phone", 375, 812, True),
    Device("phone-nojs", 375, 812, False),
]


@dataclass
class Person:
    """One person at one browser, using the keyboard only; every page they see is checked."""

    page: Any
    device: Device
    path: str
    seen: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.check_page()

    # -- the keyboard ------------------------------------------------------------------------------

    def focused(self, selector: str) -> bool:
        return bool(self.page.evaluate("s => document.activeElement.matches(s)", selector))

    def tab_to(self, selector: str) -> None:
        """Press Tab until the element is focused (it must be reachable by keyboard)."""
        for _ in range(TABS):
            if self.focused(selector):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"{selector} cannot be reached with Tab on {self.page.url}")

    def press(self, key: str) -> None:
        """A key that may load the next page: wait for it, then check it."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)
        self.check_page()

    def choose(self, value: str) -> None:
        """Tick a checkbox, or select a radio (with the arrow keys, as radios work)."""
        box = f'input[name="answer"][value="{value}"]'
        kind = self.page.get_attribute(box, "type")
        if kind == "checkbox":
            self.tab_to(box)
            if not self.page.is_checked(box):
                self.page.keyboard.press("Space")
        else:
            self.tab_to('input[name="answer"]')
            for _ in range(20):
                if self.focused(box):
                    break
                self.page.keyboard.press("ArrowDown")
            if not self.page.is_checked(box):
                self.page.keyboard.press("Space")
        assert self.page.is_checked(box)

    def type_number(self, text: str) -> None:
        self.tab_to("#answer")
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)

    def continue_(self) -> None:
        self.tab_to("button.button:not(.back-link)")
        self.press("Enter")

    def back(self) -> None:
        self.tab_to(".back-link")
        self.press("Enter")

    def change(self, question: str) -> None:
        self.tab_to(f'button[formaction="/change"][value="{question}"]')
        self.press("Enter")

    # -- what the page shows -----------------------------------------------------------------------

    def heading(self) -> str:
        return str(self.page.inner_text("h1")).strip()

    def check_page(self) -> None:
        """No sideways scrolling, no CSP report, WCAG 2.2 AA; saved as a screenshot."""
        page = self.page
        index = len(self.seen)
        name = re.sub(r"[^a-z0-9]+", "-", self.heading().lower()).strip("-")[:40]
        self.seen.append(name)
        if page.locator("#urgency").count():
            name += "-" + str(page.get_attribute("#urgency", "data-urgency"))
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= self.device.width, f"{page.url} ({name}) scrolls sideways at {self.device.width}px"
        assert page.evaluate("document.documentElement.lang"), "the page has no lang"
        key = (self.device.name, name, page.locator(".error-summary").count() > 0)
        if key not in SCANNED:  # each distinct page once a session: screenshot and axe
            SCANNED.add(key)
            error = "-error" if key[2] else ""
            shot = OUTPUT / "web" / self.device.name / f"{self.path}-{index:02d}-{name}{error}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        if self.device.javascript and key in SCANNED and key not in AXED:
            AXED.add(key)
            from axe_playwright_python.sync_playwright import Axe

            results = Axe().run(page, options=AXE_OPTIONS)
            assert results.violations_count == 0, f"{name}: {results.generate_report()}"
        reports = [m for m in self.console if "Content Security Policy" in m]
        assert not reports, reports

    def shown_result(self) -> dict[str, object]:
        """The result as the page shows it: ids from the page, texts as a person reads them."""
        page = self.page
        return {
            "urgency": page.get_attribute("#urgency", "data-urgency"),
            "label": words(page.inner_text(".care-card__heading")),
            "action": words(page.inner_text(".care-card__action")),
            "prognosis": page.get_attribute("#prognosis", "data-prognosis"),
            "suggestions": [
                page.get_attribute(f"#suggestions > li:nth-child({i + 1})", "data-suggestion")
                for i in range(page.locator("#suggestions > li").count())
            ],
            "disclaimer": words(page.inner_text("#disclaimer")),
        }


def words(text: str) -> str:
    """Text as a screen reader says it: white space between words, however it is laid out."""
    return " ".join(text.split())


def expected(record: dict[str, object], pack: triage.RulePack) -> dict[str, object]:
    result = triage.evaluate(record, rulepack=pack)
    hidden = {"emergency": "Immediate action required", "urgent": "Urgent advice"}
    return {
        "urgency": result.urgency,
        "label": f"{hidden.get(result.urgency, 'Non-urgent advice')}: {result.urgency_advice.label}",
        "action": result.urgency_advice.text,
        "prognosis": result.prognosis.category,
        "suggestions": [s.id for s in result.suggestions],
        "disclaimer": f"Warning: {result.disclaimer}",
    }


@pytest.fixture(params=DEVICES, ids=[d.name for d in DEVICES])
def device(request: pytest.FixtureRequest) -> Device:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def person(chromium: Any, served: Served, device: Device, request: pytest.FixtureRequest) -> Iterator[Person]:
    context = chromium.new_context(
        viewport={"width": device.width, "height": device.height}, java_script_enabled=device.javascript
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    path = request.node.originalname.removeprefix("test_").replace("_", "-")
    someone = Person(page, device, path)
    page.on("console", lambda message: someone.console.append(message.text))
    page.on("pageerror", lambda error: someone.console.append(str(error)))
    yield someone
    context.close()


def test_a_stroke_sign_shows_the_emergency_result_at_once(
    person: Person, served: Served, pack: triage.RulePack
) -> None:
    """Start now, tick "Signs of a stroke", Continue: the emergency care card comes next, no more questions."""
    person.visit(served.url + "/")
    person.tab_to("a.button--start")
    person.press("Enter")
    assert person.heading() == pack.questions["red_flags"].prompt
    person.choose("stroke_signs")
    person.continue_()
    assert person.heading() == "Your result"
    assert person.shown_result() == expected({"red_flags": ["stroke_signs"]}, pack)
    assert person.page.title().startswith("Your result")
    print_button = person.page.locator(".js-print")
    assert print_button.is_visible() == person.device.javascript
    assert person.page.locator(".js-print-hint").is_visible() != person.device.javascript
    person.page.emulate_media(media="print")
    shot = OUTPUT / "web" / person.device.name / f"{person.path}-print.png"
    person.page.screenshot(path=str(shot), full_page=True)
    assert not person.page.locator("form.keep").is_visible()  # no buttons on paper
    assert person.page.locator("#disclaimer").is_visible()


def test_a_paralysis_path_with_a_change_from_check_your_answers(
    person: Person, served: Served, pack: triage.RulePack
) -> None:
    """Every question of a paralysis, a Back, then a change of cause from Check your answers: the
    questions that depend on it are asked again, pre-filled, before coming back to the check."""
    q = pack.questions
    person.visit(served.url + "/start")
    person.choose("none")
    person.continue_()
    assert person.heading() == q["cause"].prompt
    person.choose("peripheral_facial_paralysis")
    person.continue_()
    assert person.heading() == q["severity"].prompt
    person.back()
    assert person.heading() == q["cause"].prompt
    assert person.page.is_checked('input[name="answer"][value="peripheral_facial_paralysis"]')
    person.continue_()
    person.choose("moderate")
    person.continue_()
    assert person.heading() == q["months_since_paralysis"].prompt
    person.type_number("2")
    person.continue_()
    assert person.heading() == q["treated_early"].prompt
    person.choose("no")
    person.continue_()
    assert person.heading() == q["eye_problems"].prompt
    person.choose("cannot_close")
    person.continue_()
    assert person.heading() == "Check your answers"
    person.change("cause")
    assert person.heading() == q["cause"].prompt
    assert person.page.is_checked('input[name="answer"][value="peripheral_facial_paralysis"]')
    person.choose("central_facial_paralysis")
    person.continue_()
    assert person.heading() == q["months_since_paralysis"].prompt
    assert person.page.input_value("#answer") == "2"
    person.continue_()
    assert person.heading() == q["treated_early"].prompt
    assert person.page.is_checked('input[name="answer"][value="no"]')
    person.continue_()
    assert person.heading() == q["eye_problems"].prompt
    assert person.page.is_checked('input[name="answer"][value="cannot_close"]')
    person.continue_()
    assert person.heading() == "Check your answers"
    answers = person.page.inner_text(".summary-list")
    assert "After a paralysis from the brain, such as a stroke" in answers
    person.tab_to('form[action="/result"] button.button')
    person.press("Enter")
    record = {
        "red_flags": [],
        "cause": "central_facial_paralysis",
        "severity": "moderate",
        "months_since_paralysis": 2,
        "treated_early": "no",
        "eye_problems": ["cannot_close"],
    }
    assert person.shown_result() == expected(record, pack)


def test_validation_errors_are_summarised_focused_and_inline(
    person: Person, served: Served, pack: triage.RulePack
) -> None:
    """Continue with nothing ticked, then with a word for a number: "There is a problem", focused,
    linked to the field, said again beside it, and the title starts with "Error: "."""
    person.visit(served.url + "/start")
    person.continue_()
    page = person.page
    assert page.title().startswith("Error: ")
    assert person.focused(".error-summary")
    assert page.inner_text(".error-summary__title") == "There is a problem"
    message = 'Choose at least one, or "None of these".'
    assert page.inner_text(".error-summary__list") == message
    assert words(page.inner_text("#answer-error")) == f"Error: {message}"
    person.page.keyboard.press("Tab")
    assert person.focused(".error-summary__list a")
    person.page.keyboard.press("Enter")
    assert person.focused("#answer")  # the link leads to the first checkbox
    person.choose("none")
    person.continue_()
    assert not page.title().startswith("Error: ")
    person.choose("fshd")
    person.continue_()
    person.continue_()
    assert page.inner_text(".error-summary__list") == "Choose one of the answers."
    person.choose("mild")
    person.continue_()
    assert person.heading() == "Check your answers"
    person.change("cause")
    person.choose("other")
    person.continue_()
    person.choose("yes")
    person.continue_()
    person.choose("family_history")
    person.choose("none")
    person.continue_()
    assert page.inner_text(".error-summary__list") == '"None of these" cannot be combined with other choices.'
    assert page.is_checked('input[name="answer"][value="family_history"]')  # what was ticked stays ticked


def test_a_number_that_is_not_one_is_refused_and_kept(
    person: Person, served: Served, pack: triage.RulePack
) -> None:
    """A word, then a number too large, in the months box: each refused, saying what is allowed,
    with what was typed kept in the box (escaped, never run)."""
    person.visit(served.url + "/start")
    person.choose("none")
    person.continue_()
    person.choose("peripheral_facial_paralysis")
    person.continue_()
    person.choose("severe")
    person.continue_()
    person.type_number("<b>six</b>")
    person.continue_()
    page = person.page
    assert page.title().startswith("Error: ")
    assert person.focused(".error-summary")
    assert (
        words(page.inner_text("#answer-error"))
        == "Error: Not a whole number. Type a whole number of months, from 0 to 1200."
    )
    assert page.input_value("#answer") == "<b>six</b>"
    person.type_number("1201")
    person.continue_()
    assert (
        page.inner_text(".error-summary__list") == "Too large. Type a whole number of months, from 0 to 1200."
    )
    person.type_number("7")
    person.continue_()
    assert person.heading() == pack.questions["treated_early"].prompt


def test_the_browsers_back_button_returns_to_earlier_questions(
    chromium: Any, served: Served, pack: triage.RulePack
) -> None:
    """Question pages are answers to POSTs, sent `private, no-cache`: Chromium's Back button shows the
    page before from its cache. (`no-store` would show "Confirm Form Resubmission": bench/back_button.py.)
    The result is `no-store`: going Forward to it again asks to send the answers again."""
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(served.url + "/start")
    for value in ("none", "fshd", "mild"):
        page.check(f'input[name="answer"][value="{value}"]')
        with page.expect_navigation():
            page.click("form[action='/answer'] button.button")
    assert page.inner_text("h1") == "Check your answers"
    with page.expect_navigation():
        page.click("form[action='/result'] button.button")
    assert page.inner_text("h1") == "Your result"
    page.go_back()
    assert page.inner_text("h1") == "Check your answers"
    page.go_back()
    assert page.inner_text("h1") == pack.questions["severity"].prompt
    page.go_back()
    assert page.inner_text("h1") == pack.questions["cause"].prompt
    page.go_forward()
    page.go_forward()
    with pytest.raises(Exception, match="ERR_CACHE_MISS"):
        page.go_forward()
    context.close()

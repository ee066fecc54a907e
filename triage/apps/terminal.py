"""The questionnaire in a terminal: the only module that imports questionary.

`TerminalPrompter` asks each question with questionary and shows the review;
the flow itself (what to ask, what a change drops) is `triage.core.flow.interview`,
the same loop the tests drive with scripted answers. Ctrl-C and Ctrl-D raise
`KeyboardInterrupt` (`unsafe_ask`), which the command line handles once, so a
cancelled prompt never reaches the engine as an answer.

Every text shown comes from the rule pack, and `--rules` loads any pack: each
method that puts a text on the screen escapes it (`triage.present.escape.text`) before
wrapping it, so no text can move the cursor, recolour or rewrite the screen.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, TextIO

import questionary
from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import Output, create_output

from triage.core.flow import ReviewItem, check_choices, interview, parse_number, selection_value
from triage.core.pack import NONE, Question, RulePack
from triage.core.vocabulary import AnswerValue
from triage.present import escape

CONFIRM = ""
"""The review's "these are right" choice (no question id is empty)."""

_PICK_ONE = "(Arrow keys to move, Enter to choose.)"
_PICK_MANY = "(Arrow keys to move, Space to tick, Enter when done.)"
_POINTER_WIDTH = 5
"""Columns in front of a choice's title: the pointer, and a checkbox's mark."""


def terminal_width() -> int:
    """The terminal's width in columns (80 when it cannot be told)."""
    return shutil.get_terminal_size((80, 24)).columns


class TerminalPrompter:
    """Asks questions with questionary, wrapping every line to the terminal's width."""

    def __init__(self, *, out: TextIO | None = None, width: int | None = None) -> None:
        self.out = out or sys.stdout
        self._width = width
        # Prompts go where `out` goes: the terminal, even when stdout is a file.
        self._output: Output = create_output(stdout=self.out)

    @property
    def width(self) -> int:
        """Columns to wrap to: the width of the terminal the prompts are shown on."""
        if self._width is None:
            try:
                columns = self._output.get_size().columns
            except OSError:
                columns = terminal_width()
            return max(columns or terminal_width(), 30)
        return max(self._width, 30)

    def ask(self, question: Question, default: AnswerValue | None) -> AnswerValue:
        """Ask one question of the pack and return the normalised answer."""
        if question.type == "number":
            return self._ask_number(question, default)
        if question.type == "multi":
            return self._ask_multi(question, default)
        choices = [self._choice(o.label, o.id, o.description) for o in question.options]
        prompt = questionary.select(
            self._message(question.prompt),
            choices=choices,
            default=default if isinstance(default, str) else None,
            instruction=self._instruction(question.help, _PICK_ONE),
            output=self._output,
        )
        return str(_run(prompt))

    def _ask_multi(self, question: Question, default: AnswerValue | None) -> AnswerValue:
        earlier = default if isinstance(default, frozenset) else None
        choices = [
            self._choice(o.label, o.id, o.description, checked=earlier is not None and o.id in earlier)
            for o in question.options
        ]
        choices.append(
            self._choice(question.none_label or NONE, NONE, None, checked=earlier is not None and not earlier)
        )

        def validate(chosen: list[str]) -> bool | str:
            problem = check_choices(question, chosen)
            return True if problem is None else self._error(problem)

        prompt = questionary.checkbox(
            self._message(question.prompt),
            choices=choices,
            validate=validate,
            instruction=self._instruction(question.help, _PICK_MANY),
            output=self._output,
        )
        return selection_value(_run(prompt))

    def _ask_number(self, question: Question, default: AnswerValue | None) -> AnswerValue:
        def validate(text: str) -> bool | str:
            try:
                parse_number(question, text)
            except ValueError as exc:
                return self._error(str(exc))
            return True

        message = self._message(question.prompt) + self._instruction(question.help, "") + "\n  >"
        prompt = questionary.text(
            message, default="" if default is None else str(default), validate=validate, output=self._output
        )
        return parse_number(question, str(_run(prompt)))

    def review(self, items: Sequence[ReviewItem]) -> str | None:
        """List every answer; return the id of the one to change, or None to confirm."""
        self.say()
        self.say("Your answers:")
        for number, item in enumerate(items, 1):
            self.say(item.question.prompt, f"  {number}. ", "     ")
            self.say(item.text, "     > ", "       ")
        choices = [self._choice("These are right: show my result", CONFIRM, None)]
        choices += [
            self._choice(f"Change {n}: {item.question.prompt}", item.question.id, None)
            for n, item in enumerate(items, 1)
        ]
        prompt = questionary.select(
            "Are these answers right?",
            choices=choices,
            instruction=self._instruction("Choose an answer to change it.", _PICK_ONE),
            output=self._output,
        )
        chosen = str(_run(prompt))
        return None if chosen == CONFIRM else chosen

    def say(self, text: str = "", first: str = "", rest: str = "") -> None:
        """Print a text where the prompts are shown, escaped and wrapped as `wrap` does."""
        print(self.wrap(text, first, rest), file=self.out, flush=True)

    def _choice(
        self, title: str, value: str, description: str | None, *, checked: bool = False
    ) -> questionary.Choice:
        # prompt_toolkit cuts long choice lines off rather than wrapping them,
        # so titles and descriptions are wrapped here.
        title = escape.text(title)
        body = textwrap.wrap(title, width=self.width - _POINTER_WIDTH) or [title]
        wrapped_title = ("\n" + " " * _POINTER_WIDTH).join(body)
        shown = None
        if description:
            indent = " " * len("  Description: ")
            lines = textwrap.wrap(escape.text(description), width=self.width - len(indent))
            shown = ("\n" + indent).join(lines)
        return questionary.Choice(title=wrapped_title, value=value, description=shown, checked=checked)

    def _message(self, text: str) -> str:
        # "? " stands before the first line; a space follows the last.
        text = escape.text(text)
        return "\n  ".join(textwrap.wrap(text, width=self.width - 3)) or text

    def _instruction(self, help_text: str | None, keys: str) -> str:
        """Help and keys on lines of their own under the question (shown while it is asked)."""
        text = " ".join(t for t in (help_text, keys) if t)
        if not text:
            return ""
        return "\n" + self.wrap(text, "  ", "  ")

    def _error(self, text: str) -> str:
        # The error line sits in a toolbar that does not wrap.
        lines = textwrap.wrap(escape.text(text), width=self.width - 1)
        return "\n".join(lines)

    def wrap(self, text: str, first: str = "", rest: str = "") -> str:
        """Text escaped and wrapped to the terminal's width, with these indents."""
        shown = escape.text(text)
        return "\n".join(textwrap.wrap(shown, width=self.width, initial_indent=first, subsequent_indent=rest))


def _run(prompt: questionary.Question) -> Any:
    """Ask; Ctrl-C raises KeyboardInterrupt, and so does Ctrl-D (an end of input)."""
    eof = KeyBindings()

    @eof.add(Keys.ControlD, eager=True)
    def _(event: Any) -> None:
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    app = prompt.application
    app.key_bindings = merge_key_bindings([app.key_bindings or KeyBindings(), eof])
    try:
        return prompt.unsafe_ask()
    except EOFError:
        raise KeyboardInterrupt from None


def run(pack: RulePack, *, out: TextIO | None = None) -> dict[str, object]:
    """Take the questionnaire in the terminal; return the answers as an answer record."""
    prompter = TerminalPrompter(out=out)
    prompter.say(f"{pack.document.title}: a few questions, then the result. Ctrl-C stops at any time.")
    return interview(pack, prompter).record()

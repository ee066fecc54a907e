"""A person at a terminal: runs the real `triage` command in a pseudo-terminal.

The program's output is fed to a terminal emulator (pyte), so tests look at the
screen a person sees rather than at escape sequences, and press keys as a
person does: arrow keys, Space, Enter, Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pexpect
import pyte

DOWN, UP, ENTER, SPACE = "\x1b[B", "\x1b[A", "\r", " "
CTRL_C, CTRL_D, BACKSPACE = "\x03", "\x04", "\x7f"
TIMEOUT = 20.0
"""Seconds to wait for anything to appear: generous for a slow CI, but bounded."""

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r")


def triage_command() -> list[str]:
    """The installed `triage` command (as a person runs it), or `python -m triage`."""
    script = Path(sys.executable).with_name("triage")
    if script.exists():
        return [str(script)]
    found = shutil.which("triage")
    return [found] if found else [sys.executable, "-m", "triage"]


def plain(raw: str) -> str:
    """Output without terminal control sequences or carriage returns."""
    return _CONTROL.sub("", raw)


class _Screen(pyte.Screen):
    """The emulated screen, answering the program's questions as a terminal does.

    prompt_toolkit asks where the cursor is (and shows validation messages
    only once it knows); the answer goes back through `answer`.
    """

    answer: Callable[[str], object] = staticmethod(lambda data: None)

    def write_process_input(self, data: str) -> None:
        self.answer(data)


class Terminal:
    """One run of `triage ARGS…` in a pseudo-terminal of `rows` x `columns`."""

    def __init__(
        self, *args: str, cwd: Path, columns: int = 80, rows: int = 24, stdout_to: Path | None = None
    ) -> None:
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "TERM": "xterm",
        }
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        command = [*triage_command(), *args]
        if stdout_to is not None:
            # As `triage ARGS > FILE` in a shell: standard output is the file, not the terminal.
            command = ["/bin/sh", "-c", 'exec "$@" > "$0"', str(stdout_to), *command]
        self.columns = columns
        self.screen = _Screen(columns, rows)
        self._stream = pyte.Stream(self.screen)
        self._raw: list[str] = []
        self.child = pexpect.spawn(
            command[0],
            command[1:],
            cwd=str(cwd),
            env=env,
            dimensions=(rows, columns),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
        )
        # Each key is sent once the screen shows the program waits for it, so no delay is needed.
        self.child.delaybeforesend = None
        self.eof = False
        self.screen.answer = self.child.send

    # -- reading --------------------------------------------------------------

    @property
    def raw(self) -> str:
        """Everything the program wrote so far."""
        return "".join(self._raw)

    @property
    def lines(self) -> list[str]:
        """The screen, row by row, without trailing spaces."""
        return [line.rstrip() for line in self.screen.display]

    def _pump(self, timeout: float) -> None:
        if self.eof:
            time.sleep(timeout)
            return
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            self.eof = True
            return
        self._raw.append(data)
        self._stream.feed(data)

    def wait(self, ready: object, what: str, timeout: float = TIMEOUT, *, settle: bool = False) -> None:
        """Read output until `ready()` is true; fail showing the screen if it never is.

        With `settle`, go on reading until the program pauses, so that the whole
        frame being drawn is on the screen before the test looks at it.
        """
        assert callable(ready)
        deadline = time.monotonic() + timeout
        while not ready():
            if self.eof or time.monotonic() > deadline:
                screen = "\n".join(self.lines)
                raise AssertionError(f"never saw {what}; the screen shows:\n{screen}\n---")
            self._pump(0.05)
        if settle:
            self._settle()

    def _settle(self, quiet: float = 0.05) -> None:
        """Read until the program has written nothing for `quiet` seconds (a frame is drawn whole)."""
        while not self.eof:
            before = len(self._raw)
            self._pump(quiet)
            if len(self._raw) == before:
                return

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> None:
        """Wait until `text` is on the screen, on one line."""
        self.wait(lambda: any(text in line for line in self.lines), repr(text), timeout, settle=True)

    def active_prompt(self) -> str | None:
        """The question being asked now (with its help, on one line), once it waits for keys.

        A list of choices is shown only while its question is asked (with "»" at
        the pointed choice); a typed answer is asked on a line starting "  >",
        where the cursor stands.
        """
        lines = self.lines
        pointer = next((row for row, line in enumerate(lines) if "»" in line), None)
        row = self.screen.cursor.y
        if pointer is None:
            if not (0 <= row < len(lines) and lines[row].startswith("  >")):
                return None
            pointer = row
        for top in range(pointer, -1, -1):
            if lines[top].startswith("? "):
                return " ".join(" ".join(lines[top:pointer]).split())[2:]
        return None

    def wait_prompt(self, prompt: str) -> None:
        """Wait until the question `prompt` is asked (however it is wrapped) and waits for keys."""
        text = " ".join(prompt.split())
        self.wait(
            lambda: (self.active_prompt() or "").startswith(text), f"the question {prompt!r}", settle=True
        )

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Wait for the program to end; return its exit status."""
        self.wait(lambda: self.eof, "the program end", timeout)
        self.child.close()
        assert self.child.signalstatus is None, f"killed by signal {self.child.signalstatus}"
        status = self.child.exitstatus
        assert status is not None
        return int(status)

    def output(self) -> str:
        """All output as plain text (control sequences removed)."""
        return plain(self.raw)

    # -- keys -------------------------------------------------------------------

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def _pointer_row(self) -> int:
        for row, line in enumerate(self.lines):
            if "»" in line:
                return row
        raise AssertionError("no choice is pointed at:\n" + "\n".join(self.lines))

    def _row_of(self, label: str) -> int:
        start = self._pointer_row()
        top = start
        while top > 0 and not self.lines[top].startswith("? "):
            top -= 1
        for row in range(top + 1, len(self.lines)):
            line = self.lines[row]
            title = line[3:].removeprefix("○ ").removeprefix("● ").rstrip()
            if title.startswith(label[: self.columns - 6]):
                return row
            # A title wrapped at a space shows its first words on this row.
            if self._is_choice(row) and title and label.startswith(title + " "):
                return row
        raise AssertionError(f"no choice {label!r}:\n" + "\n".join(self.lines))

    def _is_choice(self, row: int) -> bool:
        # A choice's first line has its title from column 3; a wrapped title goes on further in.
        line = self.lines[row]
        return len(line) > 3 and line[3] != " " and (line.startswith(" » ") or line.startswith("   "))

    def point_at(self, label: str) -> None:
        """Move the pointer to the choice whose title starts with `label`."""
        target, current = self._row_of(label), self._pointer_row()
        low, high = sorted((target, current))
        steps = sum(1 for row in range(low, high) if self._is_choice(row))
        self.send((DOWN if target > current else UP) * steps)
        self.wait(lambda: self._pointer_row() == self._row_of(label), f"the pointer on {label!r}")

    def choose(self, prompt: str, label: str) -> None:
        """Answer a one-choice question with the choice `label`."""
        self.wait_prompt(prompt)
        self.point_at(label)
        self.send(ENTER)

    def tick(self, prompt: str, labels: Iterable[str]) -> None:
        """Answer a multi-select by ticking each of `labels`, then Enter."""
        self.wait_prompt(prompt)
        for label in labels:
            self.point_at(label)
            self.send(SPACE)
            self.wait(lambda lb=label: "●" in self.lines[self._row_of(lb)], f"{label!r} ticked")
        self.send(ENTER)

    def type_line(self, prompt: str, text: str) -> None:
        """Answer a typed question: type `text`, then Enter."""
        self.wait_prompt(prompt)
        self.send(text + ENTER)

"""Serving and visiting the web pages in tests: the real server, a form filler, a browser.

`Served` runs the real `triage serve` in a subprocess on a free loopback port
and reads the URL it prints. `FormFiller` walks the pages as a browser without
a script would: it reads the form of a page and posts it, hidden fields and all.
`launch_chromium` starts Debian's Chromium through Playwright.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless, and quiet: no background traffic from the browser on a closed network."""
START_TIMEOUT = 30.0
OUTPUT = Path(os.environ.get("TRIAGE_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))
"""Where the browser tests save their screenshots (ignored by git)."""


class Served:
    """`triage serve --port 0` running in a subprocess; its stderr (the logs) goes to a file."""

    def __init__(self, *args: str, log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "triage", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if found:
                self._wait_until_up(found.group(0), deadline)
                return found.group(0).rstrip("/")
        self.stop()
        raise RuntimeError(f"triage serve did not print its URL: {lines!r}; log: {self.log.read_text()}")

    @staticmethod
    def _wait_until_up(url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2.0):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"{url} did not answer in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def chromium_available() -> bool:
    """Whether Playwright and Debian's Chromium are here."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).is_file() or shutil.which("chromium") is not None


# -- a browser without a script: forms read and posted ---------------------------------------------


@dataclass
class Form:
    """One form of a page: where it posts, and its fields in order (name, value, type)."""

    action: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, value, formaction) of each submit button."""

    def hidden(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value, kind in self.fields if kind == "hidden"]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(action=a.get("action", ""))
            self.forms.append(self._current)
        elif self._current is not None and tag == "input":
            self._current.fields.append((a.get("name", ""), a.get("value", ""), a.get("type", "text")))
        elif self._current is not None and tag == "button" and a.get("type", "submit") == "submit":
            self._current.buttons.append((a.get("name", ""), a.get("value", ""), a.get("formaction", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> list[Form]:
    """The forms of a page."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def pairs_to_data(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data


def main_form(html: str) -> Form:
    """The page's main form (not the back link's)."""
    found = [f for f in forms(html) if f.action != "/back"]
    assert found, "the page has no form"
    return found[0]


def heading(html: str) -> str:
    """The text of the page's h1."""
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, "the page has no h1"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def iter_values(value: Any) -> Iterator[str]:
    """An answer value as the form fields that give it."""
    if isinstance(value, (frozenset, set, list, tuple)):
        yield from (sorted(value) or ["none"])
    else:
        yield str(value)

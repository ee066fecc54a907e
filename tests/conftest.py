"""Shared fixtures: the bundled rule pack, loaded once; the real web server and a browser, once."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import triage

if TYPE_CHECKING:
    from web_support import Served


@pytest.fixture(scope="session")
def pack() -> triage.RulePack:
    return triage.load_rulepack()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`triage serve` on a free loopback port, for the whole session; its log in a file."""
    pytest.importorskip("starlette", reason="needs the web extra")
    from web_support import Served

    server = Served(log=tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright, for the whole session.

    Skipped where there is none, except in CI (.ci/run installs it), where that is a failure.
    """
    from web_support import CHROMIUM, CHROMIUM_ARGS, chromium_available

    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("the browser tests need Playwright and Debian's chromium (apt-get install chromium)")
        pytest.skip("needs Playwright and Debian's chromium")
    import shutil

    from playwright.sync_api import sync_playwright
    from web_support import OUTPUT

    shutil.rmtree(OUTPUT / "web", ignore_errors=True)  # this run's screenshots only
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def refused_folders(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Folders (by path) that `os.scandir` refuses to list, as it does for a folder without read
    permission: the way to show it where the tests run as root."""
    refused: set[str] = set()
    scandir = os.scandir

    def guarded(path: Any = ".") -> Any:
        if os.path.realpath(path) in refused:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    return refused

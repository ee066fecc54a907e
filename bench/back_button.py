"""What the browser's Back button does on the questionnaire's pages, for each Cache-Control they could send.

Every question page is the answer to a POST. Chromium goes Back to such a page
from its cache if it may keep it; with `no-store` it may not, and shows
"Confirm Form Resubmission" (net::ERR_CACHE_MISS) instead. This runs the real
app with each candidate header in headless Chromium — Start, answer two
questions, press Back — and prints what the person sees.

    python bench/back_button.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import uvicorn
from playwright.sync_api import Error, sync_playwright

import triage
from triage.apps.web.app import create_app

sys.path.insert(0, "tests")
from web_support import CHROMIUM, CHROMIUM_ARGS

VARIANTS = ("no-store", "private, no-cache", "private, max-age=0")


def serving(cache: str) -> tuple[uvicorn.Server, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    app = create_app(triage.load_rulepack(), form_page_cache=cache)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(f"Chromium {browser.version}")
        for cache in VARIANTS:
            server, url = serving(cache)
            page = browser.new_context().new_page()
            page.goto(url + "/start")
            page.check('input[name="answer"][value="none"]')
            with page.expect_navigation():
                page.click("button.button")
            page.check('input[name="answer"][value="fshd"]')
            with page.expect_navigation():
                page.click("button.button")
            shown = []
            for step in ("back", "back", "forward"):
                try:
                    (page.go_back if step == "back" else page.go_forward)()
                    shown.append(f"{step}: {page.inner_text('h1').strip()!r}")
                except Error as exc:
                    shown.append(f"{step}: {str(exc).splitlines()[0]}")
                    break
            print(f"Cache-Control: {cache:<20} " + " | ".join(shown))
            page.context.close()
            server.should_exit = True
        browser.close()


if __name__ == "__main__":
    main()

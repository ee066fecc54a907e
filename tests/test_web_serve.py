"""`triage serve` as a person runs it: the real command, its URL, its log, its errors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="needs the web extra")

from streams import assert_failing_output_is_reported, run_into
from web_support import Served

from triage.apps import cli
from triage.apps.web.server import is_loopback

DATA = Path(__file__).parent / "data"


def post_form(url: str, fields: list[tuple[str, str]]) -> str:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, method="POST"), timeout=10
    ) as response:
        return str(response.read().decode())


def test_serve_prints_its_url_and_serves_the_pages(served: Served) -> None:
    """The URL printed is live: the start page, and the API."""
    with urllib.request.urlopen(served.url + "/", timeout=10) as response:
        assert "Start now" in response.read().decode()
    with urllib.request.urlopen(served.url + "/healthz", timeout=10) as response:
        assert json.loads(response.read())["status"] == "ok"


def test_the_access_log_never_holds_answers(served: Served) -> None:
    """Requests are logged by method, route and status: no query string, no body, no unknown path."""
    post_form(served.url + "/answer", [("a.red_flags", "none"), ("question", "cause"), ("answer", "opmd")])
    with urllib.request.urlopen(served.url + "/?cause=family_history_secret", timeout=10):
        pass
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served.url + "/sudden_onset_secret", timeout=10)
    log = served.log.read_text()
    deadline = time.monotonic() + 10
    while "GET (other) 404" not in log and time.monotonic() < deadline:  # written after the answer is sent
        time.sleep(0.05)
        log = served.log.read_text()
    assert "POST /answer 200" in log
    assert "GET / 200" in log
    assert "GET (other) 404" in log
    for answer in ("opmd", "family_history_secret", "sudden_onset_secret", "none", "red_flags"):
        assert answer not in log


def test_another_pack_with_rules(tmp_path: Path) -> None:
    """`--rules PATH` serves that pack's questions."""
    server = Served("--rules", str(DATA / "packs" / "valid"), log=tmp_path / "log")
    try:
        with urllib.request.urlopen(server.url + "/api/v1/questionnaire", timeout=10) as response:
            ids = [q["id"] for q in json.loads(response.read())["questions"]]
        assert ids == ["red_flags", "cause", "severity", "months"]
        with urllib.request.urlopen(server.url + "/start", timeout=10) as response:
            assert "Any warning signs?" in response.read().decode()
    finally:
        server.stop()


def test_help_says_how_to_install_the_web_extra(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "pip install 'triage[web]'" in out
    assert "--host" in out
    assert "--port" in out
    assert "--rules" in out


def test_without_the_web_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "starlette" else real(name, *a)
    )
    assert cli.main(["serve"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "missing: starlette" in err
    assert "pip install 'triage[web]'" in err


def test_a_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == cli.EXIT_USAGE
    assert f"cannot listen on 127.0.0.1 port {port}" in capsys.readouterr().err


def test_standard_output_that_fails_or_is_closed_is_reported_exit_2(tmp_path: Path) -> None:
    """The address is printed first: standard output that is full (/dev/full) or was closed (`>&-`) is
    said on standard error, exit 2, as for every command, and nothing is served (it said "cannot listen")."""
    for done in assert_failing_output_is_reported(
        ["serve", "--port", "0"], tmp_path, b"cannot write standard output"
    ):
        assert b"cannot listen" not in done.stderr


def test_standard_output_over_the_rule_pack_is_refused(tmp_path: Path) -> None:
    """`triage serve 1<>pack.yaml` would print over the pack it serves: refused before it listens."""
    pack = tmp_path / "pack"
    shutil.copytree(DATA / "packs" / "valid", pack)
    before = (pack / "pack.yaml").read_bytes()
    done = run_into(pack / "pack.yaml", ["serve", "--rules", str(pack), "--port", "0"])
    assert done.returncode == 2, done.stderr
    assert b"cannot write standard output: it is the rule pack's file" in done.stderr
    assert (pack / "pack.yaml").read_bytes() == before


def test_the_command_line_loads_no_web_stack() -> None:
    """`triage --version` and every other command start without importing the web extra."""
    code = "import sys, triage.apps.cli; print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("192.0.2.1", False)],
)
def test_only_loopback_counts_as_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) == loopback


def test_the_listening_socket_says_it_is_tcp() -> None:
    """asyncio turns Nagle's algorithm off only for sockets that say they are TCP; without it each
    answer on a kept-alive connection waited 40 ms (bench/bench_web.py found it)."""
    from triage.apps.web.server import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()

"""`triage rules check|show|graph|test`, run as a person runs them: the real command in a subprocess."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import triage
from triage.core.models import ArticleCitation
from triage.packs.loading import default_pack_path

PACKS = Path(__file__).parent / "data" / "packs"


def triage_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_of_the_bundled_pack_is_clean_and_prints_its_sha256(pack: triage.RulePack) -> None:
    """`triage rules check` on the bundled pack exits 0 and names the pack's sha256."""
    done = triage_cli("rules", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pack.info.sha256 in done.stdout
    assert "is valid" in done.stdout


@pytest.mark.parametrize(
    ("fixture", "code", "expected"),
    [
        (
            "prognosis-overlap",
            1,
            "pack.yaml:119: prognosis.rules[P2]: rules P2, P3 all match 2 answer sets [overlap]",
        ),
        ("urgency-gap", 1, "urgency.rules: no rule matches 6 answer sets [gap]; counter-example: {"),
        ("unguarded", 1, "suggestions[daily_care].when: holds only because months was not asked"),
        ("duplicate-key", 1, "pack.yaml:86: duplicate key 'then' (first at line 85) [duplicate-key]"),
        ("unknown-field", 1, "pack.yaml:90: urgency.rules[U4].priority: unknown field [schema]"),
        ("unreadable-yaml", 2, "pack.yaml:78: "),
        ("missing-source", 2, "source.file: cannot read"),
    ],
)
def test_check_reports_each_problem_on_one_line(fixture: str, code: int, expected: str) -> None:
    """A broken pack gives one line per problem (file:line: where: what), exit 1, or 2 when unreadable."""
    done = triage_cli("rules", "check", PACKS / fixture)
    assert done.returncode == code, done.stdout + done.stderr
    assert expected in done.stdout
    assert "Traceback" not in done.stderr
    for line in done.stdout.splitlines():
        assert line.startswith(str(PACKS / fixture / "pack.yaml"))


def test_check_reports_every_problem_at_once() -> None:
    """All the problems of a pack are printed in one run, with a count."""
    done = triage_cli("rules", "check", PACKS / "unused")
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 3
    assert "3 problem(s) found." in done.stderr


def test_check_json_lists_problems_with_counterexamples() -> None:
    """`--format json` gives kind, description, where, line, message and the counter-example."""
    done = triage_cli("rules", "check", "--format", "json", PACKS / "prognosis-gap")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid"] is False
    gap = next(p for p in report["problems"] if p["kind"] == "gap")
    assert gap["where"] == "prognosis.rules"
    assert gap["counterexample"] == {"red_flags": [], "cause": "other", "severity": "severe"}
    assert gap["description"]
    assert isinstance(gap["line"], int)


def test_check_json_of_a_clean_pack() -> None:
    """A clean pack in JSON says valid, with its identity and no problems."""
    done = triage_cli("rules", "check", "--format", "json", PACKS / "valid")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["valid"] is True
    assert report["problems"] == []
    assert report["sha256"] == triage.load_rulepack(PACKS / "valid").info.sha256


def test_check_follows_the_rules_option() -> None:
    """`triage --rules PACK rules check` checks that pack."""
    done = triage_cli("--rules", PACKS / "shadowed", "rules", "check")
    assert done.returncode == 1
    assert "U1b" in done.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_show_covers_the_whole_decision_logic(pack: triage.RulePack, fmt: str) -> None:
    """`rules show` names every question, option label, rule, outcome, text and citation of the pack."""
    done = triage_cli("rules", "show", "--format", fmt)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    doc = pack.document
    for q in doc.questions:
        assert q.id in out
        assert q.prompt in out
        for o in q.options:
            assert o.label in out
            assert o.description in out
    blocks = out.split("\n\n")
    for rule in (*doc.urgency.rules, *doc.prognosis.rules):
        if fmt == "markdown":
            assert re.search(rf"^\| {rule.id} \| .* \| {rule.then} \| ", out, re.MULTILINE), rule.id
        else:
            block = next(b for b in blocks if b.startswith(rule.id + "\n"))
            assert re.search(rf"^    (urgency|category): {rule.then}$", block, re.MULTILINE), block
        assert rule.reason in out
    for q in doc.questions:
        assert f'"{q.name}"' in out
    for level in doc.urgency.levels[1:]:
        assert level.safety_net
        assert level.safety_net in out
    for outcome in (*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions):
        assert outcome.text in out
        for c in outcome.citations:
            assert (f'¶{c.paragraph} "{c.quote}"' if isinstance(c, ArticleCitation) else c.external) in out
    for name, parameter in doc.parameters.items():
        assert name in out
        assert parameter.basis in out
    assert doc.disclaimer in out
    for raw in ("question:", "{term", "at_least", "includes:", "empty:"):
        assert raw not in out  # conditions are in words, not YAML


def test_show_markdown_states_conditions_in_words() -> None:
    """Conditions appear as phrases built from labels: the asked-when of months, rules U4 and P2."""
    out = triage_cli("rules", "show", "--format", "markdown").stdout
    assert '- asked: when *paralysis*: `cause` is "After a facial paralysis such as Bell\'s palsy" or ' in out
    assert '| *paralysis* | `cause` is "After a facial paralysis such as Bell\'s palsy" or ' in out
    assert (
        "| *long_standing* | `months_since_paralysis` is 6 months (*long_standing_months*) or more |" in out
    )
    assert "| U4 | *paralysis* and *recent* and *untreated* | urgent |" in out
    assert "| P2 | *paralysis* and *long_standing* | difficult |" in out
    assert '| U3 | *paralysis* and `eye_problems` includes "The eye is painful or red, or sight has changed" |' in out
    assert (
        '| same_day_care | `red_flags` includes "New weakness of the face in the last 3 days" and not *emergency_flag* |'
        in out
    )
    assert (
        '| *emergency_flag* | `red_flags` includes "Signs of a stroke now or in the last few hours" or `red_flags` includes "Face drooped all at once in the last few hours" |'
        in out
    )
    assert '- asked: when *paralysis*: `cause` is "After a facial paralysis such as Bell\'s palsy" or ' in out.split(
        "`eye_problems`"
    )[1]


def test_show_is_generated_from_the_pack(tmp_path: Path) -> None:
    """Renaming an option's label in the pack changes every sentence that names it."""
    copy = tmp_path / "pack"
    shutil.copytree(default_pack_path(), copy)
    text = (copy / "pack.yaml").read_text(encoding="utf-8")
    (copy / "pack.yaml").write_text(
        text.replace("label: Signs of a stroke now", "label: Stroke warning signs now"), encoding="utf-8"
    )
    out = triage_cli("rules", "show", copy).stdout
    assert 'red_flags includes "Stroke warning signs now or in the last few hours"' in out
    assert '"Signs of a stroke now or in the last few hours"' not in out


def test_graph_is_a_mermaid_flowchart_of_flow_and_decisions(pack: triage.RulePack) -> None:
    """`rules graph` prints a Mermaid flowchart with every question, its asked-when, and every rule."""
    done = triage_cli("rules", "graph")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    out = done.stdout
    for q in pack.document.questions:
        assert f"q_{q.id}[/" in out
    assert 'ask_months_since_paralysis{"paralysis?"}' in out
    assert "ask_months_since_paralysis -- yes --> q_months_since_paralysis" in out
    for rule in pack.document.urgency.rules[:-1]:
        assert f"u_{rule.id} -- no -->" in out
    for rule in (*pack.document.prognosis.rules, *pack.document.suggestions):
        assert rule.id in out
    for line in lines[1:]:
        assert line.count('"') % 2 == 0, line  # every label is closed
        assert line.startswith("  ")


def test_rules_test_passes_the_bundled_examples(pack: triage.RulePack) -> None:
    """`rules test` runs every example of the bundled pack and reports them all passing."""
    done = triage_cli("rules", "test")
    assert done.returncode == 0, done.stdout
    count = len(pack.document.examples)
    assert f"{count} passed, 0 failed." in done.stdout
    assert done.stdout.count("ok   ") == count


def test_rules_test_reports_a_failing_example_with_expected_and_actual() -> None:
    """A failing example is named, with the expected and the actual result; exit 1."""
    done = triage_cli("rules", "test", PACKS / "example-mismatch")
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL severe-other" in out
    assert "expected: urgency urgent, prognosis difficult, suggestions [daily_care]" in out
    assert "actual:   urgency routine, prognosis difficult, suggestions [daily_care]" in out
    assert "2 passed, 1 failed." in out


def test_rules_test_reports_an_example_that_falls_in_a_gap() -> None:
    """An example that no rule covers fails with the reason instead of crashing."""
    done = triage_cli("rules", "test", PACKS / "prognosis-gap")
    assert done.returncode == 1
    assert "FAIL severe-other" in done.stdout
    assert "no prognosis rule" in done.stdout
    assert "Traceback" not in done.stderr


def test_show_of_a_broken_pack_is_refused_plainly() -> None:
    """`rules show` will not describe a pack that fails verification; it says why, exit 2."""
    done = triage_cli("rules", "show", PACKS / "shadowed")
    assert done.returncode == 2
    assert "U1b" in done.stderr
    assert "Traceback" not in done.stderr

"""The questionnaire as a person uses it: the real `triage` command in a pseudo-terminal."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from terminal import BACKSPACE, CTRL_C, CTRL_D, ENTER, Terminal, plain, triage_command

import triage
from triage.core.pack import RulePack
from triage.present.render import render_json, render_text

REVIEW = "Are these answers right?"
CONFIRM = "These are right: show my result"
RED_FLAGS, CAUSE = "Do any of these apply to you?", "What is the cause of your facial atrophy?"
MONTHS = "How many months ago did the facial paralysis begin?"
EYE = "Does the eye on the weak side have any of these problems?"

# One path per branch of the questionnaire, from the red-flag screen to the result.
PATHS: dict[str, dict[str, object]] = {
    "emergency": {"red_flags": ["stroke_signs"]},
    "face-drooped-all-at-once": {"red_flags": ["sudden_face_droop"]},
    "urgent-sudden-onset": {"red_flags": ["sudden_onset"]},
    "both-red-flags": {"red_flags": ["stroke_signs", "sudden_onset"]},
    # Bell's palsy that began two weeks ago, not treated, and the eye does not close: U4.
    "peripheral-recent-untreated": {
        "red_flags": [],
        "cause": "peripheral_facial_paralysis",
        "severity": "mild",
        "months_since_paralysis": 0,
        "treated_early": "no",
        "eye_problems": ["cannot_close"],
    },
    "central-long-standing": {
        "red_flags": [],
        "cause": "central_facial_paralysis",
        "severity": "moderate",
        "months_since_paralysis": 7,
        "treated_early": "yes",
        "eye_problems": [],
    },
    "central-painful-eye": {
        "red_flags": [],
        "cause": "central_facial_paralysis",
        "severity": "severe",
        "months_since_paralysis": 2,
        "treated_early": "yes",
        "eye_problems": ["cannot_close", "painful_or_red"],
    },
    "fshd": {"red_flags": [], "cause": "fshd", "severity": "severe"},
    "opmd": {"red_flags": [], "cause": "opmd", "severity": "mild"},
    "other-with-findings": {
        "red_flags": [],
        "cause": "other",
        "severity": "moderate",
        "worsening": "no",
        "related_findings": ["shoulder_arm_weakness", "family_history"],
    },
    "unknown-not-sure": {
        "red_flags": [],
        "cause": "unknown",
        "severity": "severe",
        "worsening": "not_sure",
        "related_findings": [],
    },
}


def answer(term: Terminal, pack: RulePack, question_id: str, value: object) -> None:
    """Answer one question at the terminal, choosing by the labels a person reads."""
    question = pack.questions[question_id]
    labels = {o.id: o.label for o in question.options}
    if question.type == "multi":
        assert isinstance(value, list)
        term.tick(question.prompt, [labels[v] for v in value] or [str(question.none_label)])
    elif question.type == "number":
        term.type_line(question.prompt, str(value))
    else:
        term.choose(question.prompt, labels[str(value)])


def answer_all(term: Terminal, pack: RulePack, record: Mapping[str, object]) -> None:
    for question_id, value in record.items():
        answer(term, pack, question_id, value)


def expected_screen(record: Mapping[str, object], width: int = 80) -> str:
    return plain(render_text(triage.evaluate(record), width=width, why="short"))


def assert_result_shown(term: Terminal, record: Mapping[str, object]) -> str:
    """The run ends with exactly the result of `record`, no line over 80 columns; returns the output."""
    assert term.finish() == 0
    out = term.output()
    expected = expected_screen(record, term.columns)
    assert out.endswith(expected), f"the result screen differs:\n{out[-len(expected) :]}"
    assert max(len(line) for line in out[-len(expected) :].splitlines()) <= term.columns
    assert "Traceback" not in out
    return out


@pytest.mark.parametrize("name", list(PATHS))
def test_each_path_to_its_result(pack: RulePack, tmp_path: Path, name: str) -> None:
    """Answering a path's questions shows that path's result; a red flag skips the review."""
    record = PATHS[name]
    term = Terminal(cwd=tmp_path)
    answer_all(term, pack, record)
    if record["red_flags"]:
        out = assert_result_shown(term, record)
        assert REVIEW not in out
        assert "What is the cause" not in out
    else:
        term.choose(REVIEW, CONFIRM)
        out = assert_result_shown(term, record)
    banner = out[-len(expected_screen(record)) :].splitlines()
    urgency = triage.evaluate(record).urgency
    if urgency in ("emergency", "urgent"):
        assert banner[0] == "!" * 80
        assert banner[1].startswith("!! ")


def test_prompts_show_labels_and_descriptions_uncut(pack: RulePack, tmp_path: Path) -> None:
    """Every choice and its description is shown whole at 80 columns, wrapped where needed."""
    term = Terminal(cwd=tmp_path)
    term.wait_prompt(RED_FLAGS)
    assert term.lines[0].startswith(f"{pack.document.title}: a few questions")
    assert "Ctrl-C stops at any time." in " ".join(term.lines[:3])
    for question_id in ("red_flags", "cause"):
        question = pack.questions[question_id]
        screen = " ".join(" ".join(term.lines).split())
        for option in question.options:
            assert option.label in screen
        first = question.options[0].description
        assert " ".join(first.split()) in screen, "the pointed choice's description is shown in full"
        if question_id == "red_flags":
            assert str(question.none_label) in screen
            term.tick(question.prompt, [str(question.none_label)])
            term.wait_prompt(CAUSE)
    assert all(len(line) <= 80 for line in term.lines)
    term.send(CTRL_C)
    assert term.finish() == 130


def test_review_and_change_the_cause(pack: RulePack, tmp_path: Path) -> None:
    """Changing the cause in the review asks only the new cause's questions and drops the old ones."""
    first = PATHS["peripheral-recent-untreated"]
    saved = tmp_path / "answers.json"
    term = Terminal("--save", str(saved), cwd=tmp_path)
    answer_all(term, pack, first)
    term.wait_prompt(REVIEW)
    assert "> 0 months" in [line.strip() for line in term.lines]
    screen = " ".join(" ".join(term.lines).split())
    for number, question_id in enumerate(first, 1):
        assert f"Change {number}: {pack.questions[question_id].prompt}" in screen
    term.choose(REVIEW, "Change 2: What is the cause")
    term.wait_prompt(CAUSE)
    pointed = next(line for line in term.lines if "»" in line)
    assert "After a facial paralysis such as Bell's palsy" in pointed, "the earlier answer is offered"
    term.choose(CAUSE, "Another cause")
    term.wait(
        lambda: not (term.active_prompt() or CAUSE).startswith(CAUSE),
        "the question after the cause",
        settle=True,
    )
    assert (term.active_prompt() or "").startswith(pack.questions["worsening"].prompt)
    answer(term, pack, "worsening", "yes")
    answer(term, pack, "related_findings", [])
    term.wait_prompt(REVIEW)
    review = "\n".join(term.lines)
    assert "> Another cause" in review
    assert MONTHS not in review
    assert "treated by a doctor" not in review
    assert "> Mild" in review, "the severity is kept"
    term.choose(REVIEW, CONFIRM)
    expected = {
        "red_flags": [],
        "cause": "other",
        "severity": "mild",
        "worsening": "yes",
        "related_findings": [],
    }
    assert_result_shown(term, expected)
    assert json.loads(saved.read_text(encoding="utf-8")) == expected


def test_a_red_flag_chosen_in_review_shows_the_result_at_once(pack: RulePack, tmp_path: Path) -> None:
    """Adding a red flag in the review ends the questionnaire with the emergency result."""
    term = Terminal(cwd=tmp_path)
    answer_all(term, pack, PATHS["fshd"])
    term.choose(REVIEW, "Change 1: Do any of these apply")
    term.wait_prompt(RED_FLAGS)
    term.tick(RED_FLAGS, ["None of these", "Signs of a stroke"])  # untick none, tick a stroke
    assert_result_shown(term, {"red_flags": ["stroke_signs"]})


def test_invalid_number_then_valid(pack: RulePack, tmp_path: Path) -> None:
    """A wrong number is refused in place with what is allowed; a right one goes on."""
    term = Terminal(cwd=tmp_path)
    record = PATHS["central-long-standing"]
    for question_id in ("red_flags", "cause", "severity"):
        answer(term, pack, question_id, record[question_id])
    term.type_line(MONTHS, "2.5")
    term.wait_for("Not a whole number. Type a whole number of months, from 0 to 1200.")
    term.send(BACKSPACE * 3 + "1500" + ENTER)
    term.wait_for("Too large. Type a whole number of months, from 0 to 1200.")
    term.send(BACKSPACE * 4 + "7" + ENTER)
    answer(term, pack, "treated_early", "yes")
    answer(term, pack, "eye_problems", [])
    term.choose(REVIEW, CONFIRM)
    assert_result_shown(term, record)


def test_the_eye_question_comes_only_after_a_paralysis(pack: RulePack, tmp_path: Path) -> None:
    """After a paralysis the eye question follows the treatment question; for another cause it never comes."""
    term = Terminal(cwd=tmp_path)
    answer_all(term, pack, {k: PATHS["fshd"][k] for k in ("red_flags", "cause", "severity")})
    term.wait_prompt(REVIEW)
    assert EYE not in " ".join(term.output().split())
    term.choose(REVIEW, "Change 2: What is the cause")
    term.choose(CAUSE, "After a facial paralysis such as Bell's palsy")
    answer(term, pack, "months_since_paralysis", 0)
    answer(term, pack, "treated_early", "no")
    term.wait_prompt(EYE)
    screen = " ".join(" ".join(term.lines).split())
    for option in pack.questions["eye_problems"].options:
        assert option.label in screen
    assert "None of these" in screen
    term.send(CTRL_C)
    assert term.finish() == 130


def test_bells_palsy_two_weeks_untreated_eye_does_not_close(pack: RulePack, tmp_path: Path) -> None:
    """Bell's palsy two weeks ago, not treated, an eye that does not close: URGENT (U4), the eye care
    advice and when to get help sooner, on the screen."""
    record = PATHS["peripheral-recent-untreated"]
    term = Terminal(cwd=tmp_path, columns=100, rows=50)
    answer_all(term, pack, record)
    term.choose(REVIEW, CONFIRM)
    out = assert_result_shown(term, record)
    result = triage.evaluate(record)
    assert (result.urgency, result.explanation[0].rule) == ("urgent", "U4")
    screen = out[-len(expected_screen(record, 100)) :]
    assert screen.splitlines()[:3] == ["!" * 100, "!! URGENT: SEE A DOCTOR TODAY", "!" * 100]
    shown = " ".join(screen.split())
    eye_care = next(s for s in result.suggestions if s.id == "eye_care")
    assert " ".join(eye_care.text.split()) in shown
    assert result.urgency_advice.safety_net
    assert f"Get help sooner: {' '.join(result.urgency_advice.safety_net.split())}" in shown
    assert "[rule U4]" in shown


def test_none_of_these_cannot_be_combined(pack: RulePack, tmp_path: Path) -> None:
    """Ticking "None of these" with a red flag, or nothing at all, is refused with a reason."""
    term = Terminal(cwd=tmp_path)
    term.wait_prompt(RED_FLAGS)
    term.send(ENTER)
    term.wait_for('Choose at least one, or "None of these".')
    term.tick(RED_FLAGS, ["New weakness of the face in the last 3 days", "None of these"])
    term.wait_for('"None of these" cannot be combined with other choices.')
    assert (term.active_prompt() or "").startswith(RED_FLAGS)
    term.send(CTRL_C)
    assert term.finish() == 130


@pytest.mark.parametrize(("key", "where"), [(CTRL_C, CAUSE), (CTRL_D, MONTHS), (CTRL_D, REVIEW)])
def test_interrupt_exits_130_without_traceback(pack: RulePack, tmp_path: Path, key: str, where: str) -> None:
    """Ctrl-C or Ctrl-D at a prompt: one short line, exit 130, no traceback, nothing saved."""
    saved = tmp_path / "answers.yaml"
    term = Terminal("ask", "--save", str(saved), cwd=tmp_path)
    if where == CAUSE:
        answer(term, pack, "red_flags", [])
    else:
        record = dict(PATHS["central-long-standing"])
        if where == MONTHS:
            record = {k: record[k] for k in ("red_flags", "cause", "severity")}
        answer_all(term, pack, record)
    term.wait_prompt(where)
    term.send(key)
    assert term.finish() == 130
    out = term.output()
    assert "Traceback" not in out
    assert out.rstrip().endswith("triage: interrupted.")
    assert not saved.exists()
    assert list(tmp_path.iterdir()) == []


def test_without_a_terminal_points_to_evaluate(tmp_path: Path) -> None:
    """With no terminal on standard input, a clear message names `triage evaluate`; exit 2."""
    done = subprocess.run(
        [*triage_command()],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr
    assert "triage evaluate" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("name", ["answers.yaml", "answers.json"])
def test_saved_answers_evaluate_to_the_same_result(pack: RulePack, tmp_path: Path, name: str) -> None:
    """`--save` writes an answer record that evaluates to the urgency, prognosis and suggestions shown."""
    record = PATHS["central-long-standing"]
    saved = tmp_path / name
    term = Terminal("--save", name, cwd=tmp_path)
    answer_all(term, pack, record)
    term.choose(REVIEW, CONFIRM)
    out = assert_result_shown(term, record)
    assert f"Your answers are saved in {name}." in out
    text = saved.read_text(encoding="utf-8")
    loaded = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    assert loaded == record
    shown, again = triage.evaluate(record), triage.evaluate(loaded)
    assert again.urgency == shown.urgency
    assert again.prognosis == shown.prognosis
    assert again.suggestions == shown.suggestions
    assert out.endswith(plain(render_text(again, width=80, why="short")))


def test_save_refuses_to_overwrite_before_asking(tmp_path: Path) -> None:
    """An existing --save file stops the run before any question, and is kept."""
    saved = tmp_path / "answers.json"
    saved.write_text('{"red_flags": []}\n', encoding="utf-8")
    term = Terminal("--save", str(saved), cwd=tmp_path)
    assert term.finish() == 2
    assert "already exists; use --force to replace it." in term.output()
    assert RED_FLAGS not in term.output()
    assert saved.read_text(encoding="utf-8") == '{"red_flags": []}\n'


def test_save_with_force_replaces(pack: RulePack, tmp_path: Path) -> None:
    """With --force the existing file is replaced by the new answers."""
    saved = tmp_path / "answers.yml"
    saved.write_text("old: file\n", encoding="utf-8")
    term = Terminal("ask", "--save", str(saved), "--force", cwd=tmp_path)
    answer_all(term, pack, PATHS["emergency"])
    assert_result_shown(term, PATHS["emergency"])
    assert yaml.safe_load(saved.read_text(encoding="utf-8")) == PATHS["emergency"]


def test_format_json_prints_the_result_as_json(pack: RulePack, tmp_path: Path) -> None:
    """--format json prints the result model as JSON after the questions."""
    record = PATHS["opmd"]
    term = Terminal("--format", "json", cwd=tmp_path)
    answer_all(term, pack, record)
    term.choose(REVIEW, CONFIRM)
    assert term.finish() == 0
    out = term.output()
    expected = render_json(triage.evaluate(record))
    assert out.rstrip().endswith(expected)
    start = out.rindex(expected)
    assert json.loads(out[start:]) == json.loads(expected)


def test_format_markdown(pack: RulePack, tmp_path: Path) -> None:
    """--format markdown prints the result as Markdown, the disclaimer last."""
    term = Terminal("ask", "--format", "markdown", cwd=tmp_path)
    answer_all(term, pack, PATHS["urgent-sudden-onset"])
    assert term.finish() == 0
    out = term.output().rstrip()
    result = triage.evaluate(PATHS["urgent-sudden-onset"])
    assert f"## {result.urgency_advice.label}" in out
    assert out.endswith(f"> **Important:** {result.disclaimer}")


def test_narrow_terminal_wraps_without_cutting(pack: RulePack, tmp_path: Path) -> None:
    """At 40 columns every prompt and result line fits, and the result is wrapped, not cut."""
    term = Terminal(cwd=tmp_path, columns=40)
    term.wait_prompt(RED_FLAGS)
    screen = " ".join(" ".join(term.lines).split())
    assert "confusion, or a sudden severe headache." in screen
    answer_all(term, pack, PATHS["emergency"])
    assert_result_shown(term, PATHS["emergency"])


def test_rules_option_uses_another_pack(tmp_path: Path) -> None:
    """--rules PATH asks the questions of that pack."""
    source = Path(triage.load_rulepack().path).parent
    pack_dir = tmp_path / "pack"
    shutil.copytree(source, pack_dir)
    pack_file = pack_dir / "pack.yaml"
    pack_file.write_text(
        pack_file.read_text(encoding="utf-8").replace(RED_FLAGS, "Does any of these apply to you today?"),
        encoding="utf-8",
    )
    term = Terminal("--rules", str(pack_dir), cwd=tmp_path)
    term.wait_prompt("Does any of these apply to you today?")
    term.send(CTRL_C)
    assert term.finish() == 130


def test_result_to_a_file_while_asking_on_the_terminal(pack: RulePack, tmp_path: Path) -> None:
    """With standard output redirected, the questions stay on the terminal and the file gets the result only."""
    record = PATHS["fshd"]
    result_file = tmp_path / "result.json"
    term = Terminal("--format", "json", cwd=tmp_path, stdout_to=result_file)
    answer_all(term, pack, record)
    term.choose(REVIEW, CONFIRM)
    assert term.finish() == 0
    text = result_file.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(render_json(triage.evaluate(record)))
    assert "\x1b" not in text
    assert '"urgency"' not in term.output()


def test_a_file_that_appears_meanwhile_is_kept(pack: RulePack, tmp_path: Path) -> None:
    """If the --save file appears while the questions are asked, it is kept; the result is still shown, exit 1."""
    record = PATHS["fshd"]
    saved = tmp_path / "answers.json"
    term = Terminal("--save", str(saved), cwd=tmp_path)
    answer_all(term, pack, record)
    term.wait_prompt(REVIEW)
    saved.write_text("someone else's\n", encoding="utf-8")
    term.choose(REVIEW, CONFIRM)
    assert term.finish() == 1
    out = term.output()
    assert "already exists; use --force to replace it." in out
    assert out.endswith(expected_screen(record))
    assert saved.read_text(encoding="utf-8") == "someone else's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]


def _can_create(folder: Path) -> bool:
    try:
        (folder / ".probe").touch()
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder in which the command cannot create a file: one without write permission or, for root
    (who writes there anyway), sysfs, where the kernel refuses new files to everyone."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if not _can_create(folder):
        return folder
    for candidate in (Path("/sys/kernel"), Path("/sys")):
        if candidate.is_dir() and not _can_create(candidate):
            return candidate
    pytest.skip("no folder here refuses new files to this user")


def _through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("notes", encoding="utf-8")
    return tmp_path / "notes.txt" / "answers.json"


@pytest.mark.parametrize(
    ("make", "problems"),
    [
        (lambda tmp: tmp / "missing" / "answers.json", ["the folder {folder} does not exist."]),
        (_through_a_file, ["{folder} is a file, not a folder."]),
        (
            lambda tmp: _read_only_folder(tmp) / "answers.json",
            ["no permission to write in {folder}.", "{folder} is on a read-only file system."],
        ),
    ],
    ids=["missing-folder", "through-a-file", "read-only-folder"],
)
def test_save_where_no_file_can_be_written_stops_before_asking(
    tmp_path: Path, make: Any, problems: list[str]
) -> None:
    """A --save file that could not be written (a missing folder, a path through a file, a folder that
    takes no new file) stops the run before the first question, exit 2: no one answers for nothing."""
    saved = make(tmp_path)
    term = Terminal("--save", str(saved), cwd=tmp_path)
    assert term.finish() == 2
    out = " ".join(term.output().split())
    said = [
        f"triage: cannot save answers to {saved}: {p.format(folder=saved.parent)}" in out for p in problems
    ]
    assert any(said), out
    assert RED_FLAGS not in out
    assert not saved.exists()


def test_save_over_a_file_of_the_rule_pack_stops_before_asking(tmp_path: Path) -> None:
    """--save (even with --force) naming a file of the rule pack being used stops before any question."""
    pack_dir = tmp_path / "pack"
    shutil.copytree(Path(triage.load_rulepack().path).parent, pack_dir)
    before = (pack_dir / "pack.yaml").read_bytes()
    term = Terminal("--rules", str(pack_dir), "--save", str(pack_dir / "pack.yaml"), "--force", cwd=tmp_path)
    assert term.finish() == 2
    out = " ".join(term.output().split())
    assert f"cannot save answers to {pack_dir / 'pack.yaml'}: that is the rule pack's file" in out
    assert RED_FLAGS not in out
    assert (pack_dir / "pack.yaml").read_bytes() == before


def test_standard_output_over_a_file_of_the_rule_pack_stops_before_asking(tmp_path: Path) -> None:
    """`triage ask 1<>pack.yaml` would write the result over the rule pack in use: refused before any
    question, as `--save` there is (a `>` would empty the pack first, which is then unreadable)."""
    pack_dir = tmp_path / "pack"
    shutil.copytree(Path(triage.load_rulepack().path).parent, pack_dir)
    before = (pack_dir / "pack.yaml").read_bytes()
    command = ["/bin/sh", "-c", 'exec "$@" 1<>"$0"', str(pack_dir / "pack.yaml")]
    child = pexpect.spawn(
        command[0],
        [*command[1:], *triage_command(), "--rules", str(pack_dir)],
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=20,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    out = " ".join(plain(child.before).split())
    assert "cannot write standard output: it is the rule pack's file" in out
    assert RED_FLAGS not in out
    assert (pack_dir / "pack.yaml").read_bytes() == before

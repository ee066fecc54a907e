"""The batch's fast path against the reference: the same bytes, one entry per record, in order."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triage
import triage.batch.parallel
import triage.batch.stream
from triage.batch.parallel import ranges
from triage.batch.run import evaluate_files
from triage.batch.stream import Batch, Piece
from triage.core.answers import read_value
from triage.core.models import Problem, RecordError, Result
from triage.core.outcomes import OutcomeMemo, read_outcome, record_key
from triage.io.inputs import InputFile
from triage.io.readers import MAX_RECORD_BYTES, jsonl_problem
from triage.io.writers import Sink, Writer, compact_json, make_writer

HYPOTHESIS = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BASES: list[dict[str, Any]] = [
    {"red_flags": [], "cause": "fshd", "severity": "mild"},
    {
        "red_flags": "none",
        "cause": "peripheral_facial_paralysis",
        "severity": "moderate",
        "months_since_paralysis": 2,
        "treated_early": "not_sure",
        "eye_problems": "cannot_close",
    },
    {
        "red_flags": ["none"],
        "cause": "unknown",
        "severity": "severe",
        "worsening": False,
        "related_findings": "family_history;eyelid_or_swallowing",
    },
    {"red_flags": "stroke_signs;sudden_onset"},
    {"cause": "other"},
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
CHOICES = st.sampled_from(
    [
        "mild",
        "severe",
        "sever",
        "none",
        "None",
        "yes",
        "no",
        "not_sure",
        "other",
        "opmd",
        "stroke_signs",
        "sudden_onset",
        "stroke_signs;none",
        "family_history",
        "",
        " mild ",
        "6",
        "6.0",
        "-1",
    ]
)
VALUES = st.one_of(
    CHOICES,
    st.integers(-3, 1300),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([0.0, -0.0, 1.0, 6.0, 6.5, True, False, None]),
    st.lists(CHOICES, max_size=3),
    st.lists(st.one_of(st.integers(0, 2), st.booleans()), min_size=1, max_size=2),
    st.dictionaries(st.just("k"), st.integers(0, 1), max_size=1),
    TEXT,
)
KEYS = st.sampled_from([*triage.load_rulepack().questions, "sevrity", "Cause", "extra"])
IDS = st.one_of(
    st.none(), TEXT, st.integers(-5, 10**6), st.sampled_from([1.5, True, [], {}, 'a"b\\c\n\u2028\x7f'])
)


@st.composite
def records(draw: st.DrawFn) -> object:
    record: dict[str, Any] = dict(draw(st.sampled_from(BASES)))
    record.update(draw(st.dictionaries(KEYS, VALUES, max_size=3)))
    for key in draw(st.lists(KEYS, max_size=2)):
        record.pop(key, None)
    place = draw(st.sampled_from(["none", "first", "last"]))
    if place == "first":  # the shape most exports have, and the batch's quickest path
        record = {"id": draw(IDS), **{k: v for k, v in record.items() if k != "id"}}
    elif place == "last":
        record["id"] = draw(IDS)
    return record


def _python_json(record: object) -> bytes:
    return json.dumps(record).encode()  # `{"id": "x", ...}`: spaces, and non-ASCII escaped


NOT_RECORDS = [
    b"",
    b"   ",
    b"[1, 2]",
    b'"text"',
    b"42",
    b"null",
    b'{"red_flags": [}',
    b'{"id": "caf\xe9"}',
    b"{} {}",
]
LINES = st.lists(
    st.one_of(records().map(orjson.dumps), records().map(_python_json), st.sampled_from(NOT_RECORDS)),
    max_size=25,
)


def reference(lines: list[bytes], name: str, writer: Writer) -> bytes:
    """What the batch must write: each record evaluated alone by `triage.evaluate`, rendered from its model."""
    out = [writer.start()]
    for number, line in enumerate(lines, 1):
        source = f"{name}:{number}"
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            problem = jsonl_problem(line, source, writer.pack)
            if problem is not None:
                out.append(
                    writer.render(
                        RecordError(
                            id=None,
                            source=source,
                            errors=(Problem(field="(record)", message=problem.message), *problem.notes),
                        )
                    )
                )
            continue
        # Numbers are read as written (0.99999999999999999 is not 1), whatever orjson makes of them.
        record = json.loads(line, parse_float=Decimal)
        repeated = json.loads(line, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
        if isinstance(record, dict) and len(set(repeated)) < len(repeated):
            record_id = record.get("id") if isinstance(record.get("id"), str) else None
            errors = tuple(
                Problem(
                    field=key,
                    message="given more than once in this record, so it is unclear which answer counts; "
                    "give each question once.",
                )
                for key in dict.fromkeys(k for k in repeated if repeated.count(k) > 1)
            )
            out.append(writer.render(RecordError(id=record_id, source=source, errors=errors)))
            continue
        try:
            entry: Result | RecordError = triage.evaluate(record).model_copy(update={"source": source})
        except triage.InvalidAnswers as exc:
            entry = RecordError(id=exc.record_id, source=source, errors=exc.problems)
        out.append(writer.render(entry))
    if len(out) == 1:
        message = f"{name}: the file is empty; there are no records."
        out.append(
            writer.render(
                RecordError(id=None, source=name, errors=(Problem(field="(file)", message=message),))
            )
        )
    joined = b"".join(out)
    sep = writer.sep
    if sep and len(out) > 1:
        joined = out[0] + b"".join(out[1:])[len(sep) :]
    return joined + writer.end()


def run_batch(path: Path, writer: Writer, pack: triage.RulePack) -> bytes:
    out_path = path.with_suffix(".out")
    with out_path.open("wb") as out:
        evaluate_files([InputFile(str(path), path.name, "jsonl", path.stat().st_size)], pack, writer, out)
    return out_path.read_bytes()


@pytest.mark.parametrize(
    ("fmt", "compact"), [("jsonl", False), ("jsonl", True), ("json", True), ("csv", False)]
)
@HYPOTHESIS
@given(lines=LINES)
def test_fast_path_writes_exactly_what_the_reference_writes(
    tmp_path: Path, pack: triage.RulePack, fmt: str, compact: bool, lines: list[bytes]
) -> None:
    """For any mix of valid, invalid and unreadable lines, the batch's bytes equal evaluating each record alone."""
    path = tmp_path / "answers.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    writer = make_writer(fmt, pack, compact=compact)
    assert run_batch(path, writer, pack) == reference(lines, "answers.jsonl", writer)


def test_fast_path_over_many_lines_and_blocks(tmp_path: Path, pack: triage.RulePack) -> None:
    """Across many blocks of lines (and a malformed line among them), output equals the reference."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(3000)]
    lines[500] = b'{"broken'
    lines[1500] = b'{"id":"caf\xc3\xa9","red_flags":[]}'  # an id that is not plain ASCII
    lines[2500] = _python_json({"id": "r", **BASES[0]})
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    writer = make_writer("jsonl", pack, compact=True)
    assert run_batch(path, writer, pack) == reference(lines, "many.jsonl", writer)


@pytest.mark.parametrize("base", BASES[:4])
def test_compact_is_the_full_result_without_texts(base: dict[str, Any]) -> None:
    """Compact JSON is the full JSON minus the texts, ids as lists, disclaimer and rule pack kept."""
    result = triage.evaluate(base)
    compact = json.loads(compact_json(result))
    full = json.loads(result.model_dump_json())
    assert list(compact) == [key for key in full if key != "urgency_advice"]
    assert compact["disclaimer"] == full["disclaimer"]
    assert compact["rulepack"] == full["rulepack"]
    assert compact["urgency"] == full["urgency"]
    assert compact["warnings"] == full["warnings"]
    assert compact["prognosis"] == {"category": full["prognosis"]["category"]}
    assert compact["suggestions"] == [s["id"] for s in full["suggestions"]]
    assert compact["explanation"] == [e["rule"] for e in full["explanation"]]


@HYPOTHESIS
@given(batch=st.lists(st.one_of(records(), st.sampled_from([[1], "x", None, 3])), max_size=30))
def test_evaluate_many_equals_evaluating_each_record(batch: list[object]) -> None:
    """The memoised library path gives, record by record, what `evaluate` gives alone."""
    expected: list[Result | RecordError] = []
    for record in batch:
        try:
            expected.append(triage.evaluate(record))  # type: ignore[arg-type]
        except triage.InvalidAnswers as exc:
            expected.append(RecordError(id=exc.record_id, errors=exc.problems))
    assert list(triage.evaluate_many(batch)) == expected


FORMS: dict[str, list[object]] = {
    "red_flags": [
        [],
        "none",
        ["none"],
        " None ",
        "NONE",
        ["sudden_onset"],
        "sudden_onset",
        ["sudden_onset "],
    ],
    "cause": ["peripheral_facial_paralysis", " peripheral_facial_paralysis", "other", "othr"],
    "severity": ["mild", "mild ", "severe", None, 3],
    "months_since_paralysis": [6, "6", 6.0, "6.0", " 6 ", 1500, "six", None],
    "treated_early": ["yes", True, "no", False, " yes", "maybe"],
    "eye_problems": ["none", [], "cannot_close", ["cannot_close "], "painful_or_red;cannot_close", None],
    "worsening": ["no", False, None],
    "sevrity": [None, "mild"],
}


@HYPOTHESIS
@given(st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in FORMS.items()}), max_size=40))
def test_records_that_read_alike_share_an_outcome(
    pack: triage.RulePack, batch: list[dict[str, object]]
) -> None:
    """Answers written in different forms that read the same share one outcome, which is exactly
    what reading each record alone gives (and records that read differently never share one)."""
    memo = OutcomeMemo(pack)
    for record in batch:
        alone = read_outcome(record, pack)
        shared = memo.outcome(record)
        assert shared.entry(pack, None, None) == alone.entry(pack, None, None)
    shared_by: dict[frozenset[tuple[str, object]], set[int]] = {}
    for record in batch:
        given = {k: v for k, v in record.items() if v is not None and k in pack.questions}
        read = {k: read_value(pack.questions[k], v) for k, v in given.items()}
        if len(given) == len(record) - list(record.values()).count(None) and not any(
            isinstance(v, Problem) for v in read.values()
        ):
            shared_by.setdefault(frozenset(read.items()), set()).add(id(memo.outcome(record)))
    assert all(len(outcomes) == 1 for outcomes in shared_by.values())


@HYPOTHESIS
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(["jsonl", "json", "yaml", "csv"]), st.lists(records(), min_size=1, max_size=6)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_one_entry_per_record_in_order_across_files(
    tmp_path_factory: pytest.TempPathFactory,
    pack: triage.RulePack,
    files: list[tuple[str, list[dict[str, Any]]]],
) -> None:
    """Over several files of every format, the output has one entry per record, in input order."""
    folder = tmp_path_factory.mktemp("files")
    inputs = []
    expected: list[str] = []
    for index, (fmt, batch) in enumerate(files):
        path = folder / f"f{index}.{fmt}"
        if fmt == "jsonl":
            path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in batch))
            expected += [f"{path.name}:{n}" for n in range(1, len(batch) + 1)]
        elif fmt in ("json", "yaml"):
            path.write_bytes(orjson.dumps(batch) if fmt == "json" else yaml.safe_dump(batch).encode())
            expected += [f"{path.name}#{n}" for n in range(len(batch))]
        else:
            rows = [{k: _cell(v) for k, v in r.items()} for r in batch]
            columns = sorted({k for r in rows for k in r} | {"red_flags"})
            lines = [",".join(columns)] + [",".join(_quoted(r.get(c, "")) for c in columns) for r in rows]
            path.write_text("\n".join(lines) + "\n")
            kept, line = [], 2  # a row starts on the line after the previous row's last line
            for row in rows:
                if any(v.strip() for v in row.values()):
                    kept.append(f"{path.name}:{line}")
                line += 1 + sum(v.count("\n") for v in row.values())
            expected += kept or [path.name]  # no rows with answers: one entry for the file
        inputs.append(InputFile(str(path), path.name, fmt, path.stat().st_size))
    out = folder / "out.jsonl"
    with out.open("wb") as stream:
        summary = evaluate_files(inputs, pack, make_writer("jsonl", pack), stream)
    sources = [json.loads(line)["source"] for line in out.read_bytes().splitlines()]
    assert sources == expected
    assert summary.records == summary.valid + summary.invalid == len(expected) - summary.unreadable_files


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize(
    ("a", "b"),
    [(1, True), (1, 1.0), (0.0, -0.0), (0, False), ("1", 1), (None, "none"), ([], "none"), (["a"], "a")],
)
def test_record_keys_tell_apart_what_reading_tells_apart(a: object, b: object) -> None:
    """Values that compare equal in Python but read differently never share a key."""
    assert record_key({"treated_early": a}) != record_key({"treated_early": b})


def test_record_key_ignores_the_id_and_finds_nan_again() -> None:
    """The id is not part of the key, and nan (unequal to itself) is found again."""
    assert record_key({"id": "a", "x": 1}) == record_key({"id": "b", "x": 1})
    nan = float("nan")
    assert record_key({"x": nan}) == record_key({"x": math.nan})
    assert record_key({"x": None}) not in (None, record_key({"x": "None"}), record_key({}))
    assert record_key({1: "x"}) is None
    assert record_key({"x": {"nested": 1}}) is None


def test_memo_stays_bounded(pack: triage.RulePack) -> None:
    """The outcome memo never holds more than its limit, whatever the input."""
    memo = OutcomeMemo(pack, limit=10)
    for n in range(50):
        memo.outcome({"red_flags": [], "cause": "fshd", "severity": "mild", "extra": n})
        assert len(memo._memo) <= 10


def test_pieces_of_a_file_join_up(tmp_path: Path, pack: triage.RulePack) -> None:
    """A file evaluated as pieces (as --jobs cuts it) gives the same bytes and counts as in one go."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(3000)]
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    file = InputFile(str(path), "a.jsonl", "jsonl", path.stat().st_size)
    writer = make_writer("jsonl", pack)
    cut = list(ranges(file, file.size // 6))  # pieces of at most that size, cut at line ends
    pieces = [piece for piece, _ in cut]
    assert len(pieces) == 7
    assert [p.start for p in pieces[1:]] == [p.end for p in pieces[:-1]]
    data = path.read_bytes()
    assert all(data[p.end - 1 : p.end] == b"\n" and p.end - p.start <= file.size // 6 for p in pieces[:-1])
    assert [line for _, line in cut] == [1 + data.count(b"\n", 0, p.start) for p in pieces]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    with whole.open("wb") as out:
        one = Batch(pack, writer).run([Piece(file)], Sink(out, writer))
    with parts.open("wb") as out:
        batch = Batch(pack, writer)
        batch.begin(Sink(out, writer))
        data = path.read_bytes()
        for piece in pieces:
            batch.take(piece, 1 + data.count(b"\n", 0, piece.start))
        many = batch.finish()
    assert whole.read_bytes() == parts.read_bytes()
    assert (one.records, one.valid, one.urgency) == (many.records, many.valid, many.urgency)


CSV_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["fshd", "opmd", "other", "fsdh", ""]),
        st.sampled_from(["mild", "severe", "sever", ""]),
        st.sampled_from(["none", "stroke_signs", "", "none;sudden_onset"]),
    ),
    max_size=30,
)


@HYPOTHESIS
@given(
    files=st.lists(st.one_of(LINES, CSV_ROWS), min_size=1, max_size=4),
    turn=st.integers(16, 1500),
    jobs=st.integers(2, 4),
    fmt=st.sampled_from(["jsonl", "json", "csv"]),
    ahead=st.sampled_from([1 << 20, 64]),
)
def test_jobs_write_exactly_what_one_process_writes(
    tmp_path: Path, pack: triage.RulePack, files: list[Any], turn: int, jobs: int, fmt: str, ahead: int
) -> None:
    """Over any mix of files (JSON Lines and CSV, valid, invalid and unreadable records, empty ones),
    JSON Lines cut into ranges of any size, --jobs gives one process's bytes and counts; also when
    ranges are too large to be read at once (`ahead`)."""
    inputs = []
    for number, content in enumerate(files):
        if content and isinstance(content[0], tuple):
            path = tmp_path / f"f{number}.csv"
            rows = [
                "id,cause,severity,red_flags",
                *(f"r{n},{','.join(row)}" for n, row in enumerate(content)),
            ]
            path.write_bytes("\n".join(rows).encode() + b"\n")
            kind = "csv"
        else:
            path = tmp_path / f"f{number}.jsonl"
            path.write_bytes(b"".join(line + b"\n" for line in content))
            kind = "jsonl"
        inputs.append(InputFile(str(path), path.name, kind, path.stat().st_size))
    writer = make_writer(fmt, pack, compact=True)
    saved = triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE
    triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE = turn, ahead
    try:
        outputs = _one_process_and_jobs(inputs, pack, writer, jobs, tmp_path / "out")
    finally:
        triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE = saved
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("ahead", [1 << 23, 1 << 16])
def test_jobs_step_over_a_line_too_long(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    """A line over the size limit inside a piece is reported in its place under --jobs, as in one process."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(6000)]
    lines[2500] = b'{"id":"huge","note":"' + b"x" * (MAX_RECORD_BYTES + 10) + b'"}'
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    file = InputFile(str(path), "a.jsonl", "jsonl", path.stat().st_size)
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 1 << 17)
    monkeypatch.setattr(triage.batch.stream, "READ_AT_ONCE", ahead)
    writer = make_writer("jsonl", pack, compact=True)
    outputs = []
    for jobs in (1, 2, 3):
        with (tmp_path / "out").open("w+b") as out:
            summary = evaluate_files([file], pack, writer, out, jobs=jobs)
            out.seek(0)
            outputs.append((out.read(), vars(summary)))
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"a.jsonl:2501: this line is" in outputs[0][0]
    assert len(outputs[0][0].splitlines()) == 6000


@pytest.mark.parametrize("dump", [orjson.dumps, _python_json], ids=["tight", "spaced"])
@pytest.mark.parametrize(
    ("fmt", "compact"), [("jsonl", True), ("jsonl", False), ("json", True), ("text", False)]
)
def test_known_lines_path_matches_the_reference(
    tmp_path: Path, pack: triage.RulePack, dump: Any, fmt: str, compact: bool
) -> None:
    """Blocks of lines that start with a plain id (as most exports write them) give the reference's bytes."""
    records = [
        {
            "id": f"r-{n % 7}" if n % 3 else "",
            **BASES[n % len(BASES)],
            **({"extra": n % 4} if n % 11 == 0 else {}),
        }
        for n in range(2500)
    ]
    lines = [dump(record) for record in records]
    path = tmp_path / "ids.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    writer = make_writer(fmt, pack, compact=compact)
    assert run_batch(path, writer, pack) == reference(lines, "ids.jsonl", writer)


PARENT = os.getpid()
TAKE = Batch.take


def _one_process_and_jobs(
    inputs: list[InputFile], pack: triage.RulePack, writer: Any, jobs: int, path: Path
) -> list[tuple[bytes, dict[str, Any]]]:
    """The output and summary of evaluating `inputs` in one process, then with `jobs` processes."""
    outputs = []
    for count in (1, jobs):
        with path.open("w+b") as out:
            summary = evaluate_files(inputs, pack, writer, out, jobs=count)
            out.seek(0)
            outputs.append((out.read(), vars(summary)))
    return outputs


def _die(batch: Batch, *args: Any) -> int:
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return TAKE(batch, *args)


def _fail(batch: Batch, *args: Any) -> int:
    if os.getpid() != PARENT:
        raise RuntimeError("out of luck")
    return TAKE(batch, *args)


@pytest.mark.parametrize(("work", "message"), [(_die, "worker process stopped"), (_fail, "out of luck")])
def test_a_failed_worker_is_reported_not_waited_for(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch, work: Any, message: str
) -> None:
    """When a --jobs worker dies or fails mid-run, the run stops with a clear error instead of hanging."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(2_000)]
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    file = InputFile(str(path), "a.jsonl", "jsonl", path.stat().st_size)
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(Batch, "take", work)
    with (tmp_path / "out").open("wb") as out:
        for jobs in (2, 3):
            with pytest.raises(triage.TriageError, match=message):
                evaluate_files([file], pack, make_writer("jsonl", pack), out, jobs=jobs)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("raise RuntimeError('out of luck')", b"a worker process failed (RuntimeError: out of luck)"),
        ("os.kill(os.getpid(), signal.SIGKILL)", b"a worker process stopped before its share"),
    ],
    ids=["failed", "killed"],
)
def test_a_failed_worker_makes_the_run_exit_2(tmp_path: Path, action: str, message: bytes) -> None:
    """A run whose worker failed or was killed wrote an incomplete output: exit 2 (as any run that could
    not be done), not 1, which says every record was accounted for and some were invalid; -o is left
    unwritten."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(2_000)]
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    script = (
        "import os, signal, sys\n"
        "import triage.batch.parallel\n"
        "from triage.apps.cli import main\n"
        "from triage.batch.stream import Batch\n"
        "parent, take = os.getpid(), Batch.take\n"
        "def failing(batch, *args):\n"
        "    if os.getpid() != parent:\n"
        f"        {action}\n"
        "    return take(batch, *args)\n"
        "Batch.take, triage.batch.parallel.CHUNK_BYTES = failing, 4096\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "evaluate", "a.jsonl", "--jobs", "2", "-o", "out.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert b"the output is incomplete" in done.stderr
    assert b"Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()


def _no_pool(*args: object, **kwargs: object) -> None:
    raise AssertionError("a pool of processes was started")


def test_jobs_fall_back_to_one_process_when_there_is_nothing_to_share(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small JSON Lines files, files of other formats however large, and a run where processes cannot
    be forked are evaluated in one process, with one process's output; a large JSON Lines file among
    them is shared out."""
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(2_000)]
    (tmp_path / "small.jsonl").write_bytes(b"\n".join(lines[:20]) + b"\n")
    (tmp_path / "big.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "list.json").write_bytes(orjson.dumps([orjson.loads(line) for line in lines]))
    (tmp_path / "rows.csv").write_text(
        "id,red_flags,cause,severity\n" + "".join(f"r{n},none,fshd,mild\n" for n in range(2_000))
    )
    kinds = {"small.jsonl": "jsonl", "big.jsonl": "jsonl", "list.json": "json", "rows.csv": "csv"}
    files = {
        name: InputFile(str(tmp_path / name), name, kind, (tmp_path / name).stat().st_size)
        for name, kind in kinds.items()
    }
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 4096)
    assert (tmp_path / "list.json").stat().st_size > 4096 < (tmp_path / "rows.csv").stat().st_size
    writer = make_writer("json", pack, compact=True)

    def run(names: list[str], jobs: int) -> tuple[bytes, dict[str, Any]]:
        with (tmp_path / "out").open("w+b") as out:
            summary = evaluate_files([files[n] for n in names], pack, writer, out, jobs=jobs)
            out.seek(0)
            return out.read(), vars(summary)

    one = run(list(kinds), 1)
    assert run(list(kinds), 2) == one
    with monkeypatch.context() as patched:
        patched.setattr(triage.batch.parallel, "ProcessPoolExecutor", _no_pool)
        with pytest.raises(AssertionError, match="pool"):
            run(list(kinds), 2)
        unshared = ["small.jsonl", "list.json", "rows.csv"]
        assert run(unshared, 2) == run(unshared, 1)
        patched.delattr(os, "fork")
        assert run(list(kinds), 2) == one


def test_a_file_gone_during_a_jobs_run_is_reported_not_called_empty(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file cut into ranges and removed before they are read gives errors that it cannot be read,
    never that it is empty, and the other files are still read."""
    cut = triage.batch.parallel.ranges

    def cut_then_remove(file: InputFile, size: int) -> Any:
        pieces = list(cut(file, size))
        if file.name == "gone.jsonl":
            (tmp_path / "gone.jsonl").unlink()
        yield from pieces

    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) for n in range(2_000)]
    for name in ("gone.jsonl", "kept.jsonl"):
        (tmp_path / name).write_bytes(b"\n".join(lines) + b"\n")
    files = [
        InputFile(str(tmp_path / n), n, "jsonl", (tmp_path / n).stat().st_size)
        for n in ("gone.jsonl", "kept.jsonl")
    ]
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 1 << 15)
    monkeypatch.setattr(triage.batch.parallel, "ranges", cut_then_remove)
    with (tmp_path / "out").open("w+b") as out:
        summary = evaluate_files(files, pack, make_writer("jsonl", pack, compact=True), out, jobs=2)
        out.seek(0)
        entries = [orjson.loads(line) for line in out.read().splitlines()]
    gone = [e["errors"][0]["message"] for e in entries if e["source"].startswith("gone.jsonl")]
    assert len(gone) > 1
    assert all(message.startswith("gone.jsonl: cannot be read") for message in gone)
    assert len(entries) - len(gone) == summary.records == 2_000


def test_a_file_cut_short_during_a_jobs_run_gives_the_lines_left(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file cut into ranges and then truncated (at a line end) before they are read gives the
    entries of the lines left, in order, and the run ends."""
    cut = triage.batch.parallel.ranges
    lines = [orjson.dumps({"id": f"r{n}", **BASES[n % len(BASES)]}) + b"\n" for n in range(200_000)]

    def cut_then_truncate(file: InputFile, size: int) -> Any:
        pieces = list(cut(file, size))
        assert len(pieces) > 2
        (tmp_path / "a.jsonl").write_bytes(b"".join(lines[:1_000]))
        yield from pieces

    (tmp_path / "a.jsonl").write_bytes(b"".join(lines))
    file = InputFile(str(tmp_path / "a.jsonl"), "a.jsonl", "jsonl", (tmp_path / "a.jsonl").stat().st_size)
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 1 << 21)  # larger than a line may be
    monkeypatch.setattr(triage.batch.parallel, "ranges", cut_then_truncate)
    with (tmp_path / "out").open("w+b") as out:
        summary = evaluate_files([file], pack, make_writer("jsonl", pack, compact=True), out, jobs=2)
        out.seek(0)
        sources = [orjson.loads(line)["source"] for line in out.read().splitlines()]
    assert sources == [f"a.jsonl:{n}" for n in range(1, 1_001)]
    assert summary.records == 1_000


@pytest.mark.parametrize(
    "odd",
    [
        b'{"id":"a\\",\\"b","cause":"fshd","severity":"mild","red_flags":[]}',
        b'{"id":"a","id":"b","cause":"fshd","severity":"mild","red_flags":[]}',
        b'{"id":"x","cause":"fshd","severity":"mild","red_flags":[],"id":"y"}',
        b'{"id":"caf\xc3\xa9","cause":"fshd","severity":"mild","red_flags":[]}',
        b'{"id":"tab\there","cause":"fshd","severity":"mild","red_flags":[]}',
        b'{"id":"no-cut"}',
        b'{"id":"unclosed',
        b'{"id":"","cause":"fshd","severity":"mild","red_flags":[]}',
        b'{"id":"a","cause":"fshd","severity":"mild","red_flags":[]} trailing',
    ],
)
def test_known_lines_path_is_not_fooled_by_odd_ids(tmp_path: Path, pack: triage.RulePack, odd: bytes) -> None:
    """A line that only looks like `{"id":"<plain id>",…` among known lines still gets the reference's bytes."""
    plain = b'{"id":"r-%d","cause":"fshd","severity":"mild","red_flags":[]}'
    lines = [plain % n for n in range(1500)] + [odd] + [plain % n for n in range(1500, 2100)]
    lines[1024 + 5] = odd  # in the second block too, after its rest became known
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    writer = make_writer("jsonl", pack, compact=True)
    assert run_batch(path, writer, pack) == reference(lines, "odd.jsonl", writer)


# -- N lines in, N entries out, whatever the lines --------------------------------------------------------


def _deep(depth: int, ident: bool) -> bytes:
    """A record with a value nested `depth` levels deep (orjson writes at most 255, reads at most 1024)."""
    head = b'{"id":"deep",' if ident else b"{"
    return (
        head
        + b'"red_flags":"none","cause":"fshd","severity":"mild","x":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )


KNOWN = b'{"id":"k","red_flags":"none","cause":"fshd","severity":"mild"}'
HOSTILE_LINES = [
    KNOWN,
    b'{"id":"k2","red_flags":"none","cause":"fshd","severity":"mild"}',
    b'{"id": "sp", "red_flags": "none", "cause": "fshd", "severity": "mild"}',
    b'{"id":"r","red_flags":"stroke_signs","red_flags":"none","cause":"fshd","severity":"mild"}',
    b'{"red_flags":[{"a":1,"a":2}],"cause":"fshd","severity":"mild"}',
    b'{"id":"m","red_flags":"none","cause":"peripheral_facial_paralysis","severity":"mild",'
    b'"months_since_paralysis":0.99999999999999999,"treated_early":"no"}',
    b'{"id":"m6","red_flags":"none","cause":"peripheral_facial_paralysis","severity":"mild",'
    b'"months_since_paralysis":6.0,"treated_early":"no"}',
    b'{"id":"e","red_flags":"none","cause":"fshd","severity":"mild","months_since_paralysis":1e2}',
    b'{"id":"big","red_flags":"none","cause":"fshd","severity":1000000000000000000000000000000}',
    b'{"id":"huge","red_flags":"none","severity":' + b"9" * 400 + b"}",
    b'{"id":"inf","red_flags":1e400}',
    b'{"red_flags":NaN,"cause":"fshd"}',
    b'{"red_flags":["stroke_signs"],"cause":-Infinity}',
    b'\xef\xbb\xbf{"red_flags":"none","cause":"fshd","severity":"mild"}',
    b"\xef\xbb\xbf",
    b'{"id":"\\ud800","red_flags":"none","cause":"fshd","severity":"mild"}',
    b'{"id":"x","red_flags":',
    b"[" * 1100,
    b"",
    b"   ",
    b"\r",
    b"\t\x0b",
    b"\x00\x00",
    b"\xff\xfe",
    b"null",
    b'{"id":"k","red_flags":"none","cause":"fshd","severity":"mild","extra":{"a":1}}',
]
JSONL_LINES = st.one_of(
    records().map(orjson.dumps),
    st.sampled_from(HOSTILE_LINES),
    st.builds(_deep, st.sampled_from([100, 254, 255, 256, 300, 990, 1023, 1024, 1030]), st.booleans()),
    st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
)


def _is_record(number: int, line: bytes) -> bool:
    """Whether a JSON Lines line is a record (gets an entry): any line that is not blank."""
    if number == 1:
        line = line.removeprefix(b"\xef\xbb\xbf")
    return bool(line.rstrip(b"\r\n").strip())


@HYPOTHESIS
@given(
    lines=st.lists(JSONL_LINES, max_size=40),
    prefixed=st.booleans(),
    turn=st.integers(16, 600),
    ahead=st.sampled_from([1 << 20, 64]),
)
def test_n_lines_in_n_entries_out_whatever_the_lines(
    tmp_path: Path, pack: triage.RulePack, lines: list[bytes], prefixed: bool, turn: int, ahead: int
) -> None:
    """Any mix of valid records, deep lines, repeated keys, floats, malformed lines, BOMs, NaN and huge
    numbers gives exactly one entry per record, in order, each naming its line; `--jobs 2` gives the
    same bytes and counts. `prefixed` files have every line begin with a plain id (the known-lines path)."""
    if prefixed:
        lines = [line for line in lines if line.startswith(b'{"id":"')] or [KNOWN]
        lines = [*lines, KNOWN, *lines]  # a line seen before is looked up unparsed
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    file = InputFile(str(path), path.name, "jsonl", path.stat().st_size)
    writer = make_writer("jsonl", pack, compact=True)
    outputs = []
    saved = triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE
    triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE = turn, ahead
    try:
        for jobs in (1, 2):
            with (tmp_path / "out").open("w+b") as out:
                summary = evaluate_files([file], pack, writer, out, jobs=jobs)
                out.seek(0)
                outputs.append((out.read(), vars(summary)))
    finally:
        triage.batch.parallel.CHUNK_BYTES, triage.batch.stream.READ_AT_ONCE = saved
    assert outputs[0] == outputs[1]
    sources = [json.loads(line)["source"] for line in outputs[0][0].splitlines()]
    expected = [f"mixed.jsonl:{n}" for n, line in enumerate(lines, 1) if _is_record(n, line)]
    assert sources == (expected or ["mixed.jsonl"])
    assert outputs[0][1]["records"] == len(expected)


@HYPOTHESIS
@given(
    files=st.lists(
        st.tuples(st.lists(JSONL_LINES, max_size=30), st.sampled_from([b"\n", b"\r\n"]), st.booleans()),
        min_size=1,
        max_size=3,
    ),
    chunk=st.integers(16, 400),
    jobs=st.integers(2, 3),
    fmt=st.sampled_from(["jsonl", "json", "text"]),
)
def test_jobs_write_one_process_bytes_whatever_the_line_ends(
    tmp_path: Path,
    pack: triage.RulePack,
    files: list[tuple[list[bytes], bytes, bool]],
    chunk: int,
    jobs: int,
    fmt: str,
) -> None:
    """Several JSON Lines files, with LF or CRLF line ends, the last line with or without its end, BOMs,
    blank, malformed and valid lines, empty files: --jobs cuts them into ranges of any size and writes
    one process's bytes and counts, each entry naming its file and line."""
    inputs, expected = [], []
    for number, (lines, end, last) in enumerate(files):
        path = tmp_path / f"f{number}.jsonl"
        path.write_bytes(end.join(lines) + (end if last and lines else b""))
        inputs.append(InputFile(str(path), path.name, "jsonl", path.stat().st_size))
        found = [f"{path.name}:{n}" for n, line in enumerate(lines, 1) if _is_record(n, line)]
        expected += found or [path.name]
    writer = make_writer(fmt, pack, compact=True)
    saved = triage.batch.parallel.CHUNK_BYTES
    triage.batch.parallel.CHUNK_BYTES = chunk
    try:
        outputs = _one_process_and_jobs(inputs, pack, writer, jobs, tmp_path / "out")
    finally:
        triage.batch.parallel.CHUNK_BYTES = saved
    assert outputs[0] == outputs[1]
    if fmt == "jsonl":
        assert [json.loads(line)["source"] for line in outputs[0][0].splitlines()] == expected


@pytest.mark.parametrize("where", [0, 1023, 1024, 5000, 10_000])
@pytest.mark.parametrize("ident", [True, False])
def test_a_deep_line_is_one_error_entry_in_a_long_export(
    tmp_path: Path, pack: triage.RulePack, monkeypatch: pytest.MonkeyPatch, where: int, ident: bool
) -> None:
    """A line nested a few hundred levels deep among 10,000 records is one error entry in its place:
    10,001 entries out, in one process and with --jobs 2, wherever the line is."""
    lines = [b'{"id":"r%d","red_flags":"none","cause":"fshd","severity":"mild"}' % n for n in range(10_000)]
    lines.insert(where, _deep(300, ident))
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    file = InputFile(str(path), path.name, "jsonl", path.stat().st_size)
    writer = make_writer("jsonl", pack, compact=True)
    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 1 << 16)
    outputs = []
    for jobs in (1, 2):
        with (tmp_path / "out").open("w+b") as out:
            summary = evaluate_files([file], pack, writer, out, jobs=jobs)
            out.seek(0)
            outputs.append(out.read())
        assert (summary.records, summary.valid, summary.invalid) == (10_001, 10_000, 1)
    assert outputs[0] == outputs[1]
    entries = [json.loads(line) for line in outputs[0].splitlines()]
    assert len(entries) == 10_001
    assert entries[where]["source"] == f"export.jsonl:{where + 1}"
    assert entries[where]["errors"][0]["field"] == "x"


# -- memory stays flat ----------------------------------------------------------------------------------

FLAT_MB = 128
"""Peak RSS of a whole run, whatever the input holds: Python, pydantic and the pack take about 40 MB,
and a batch run's malloc keeps up to 64 MiB it has freed for reuse (`triage.batch.allocator`), so where
the long lines' copies fall in it moves the peak by some 15 MB from one build to the next (95 to 110 MB
measured, 110 MB with four times the lines). A run that held an input (about 90 MB) would pass it."""


def _flat_inputs(folder: Path) -> dict[str, list[str]]:
    """Inputs that used to make memory grow with the input; each with the arguments of its run."""
    with (folder / "ragged.csv").open("w") as out:  # every entry an error: all held until the end
        out.write("id,red_flags,cause,severity\n" + "a,none\n" * 200_000)
    with (folder / "distinct.jsonl").open("w") as out:  # a distinct outcome each: all remembered
        out.writelines(f'{{"k{n}": 1}}\n' for n in range(50_000))
    with (folder / "long-values.jsonl").open("w") as out:  # 1,024 lines read as a block, and remembered
        out.writelines(f'{{"x": "{n}{"v" * 900_000}", "red_flags": "none"}}\n' for n in range(100))
    with (folder / "long-ids.jsonl").open("w") as out:  # echoed in every format, each escaped text kept
        out.writelines(f'{{"id": "={n}{"v" * 900_000}", "red_flags": "none"}}\n' for n in range(100))
    return {
        "ragged-csv": ["ragged.csv"],
        "distinct-lines": ["distinct.jsonl"],
        "long-values": ["long-values.jsonl"],
        **{f"long-ids-{fmt}": ["long-ids.jsonl", "--format", fmt] for fmt in ("jsonl", "csv", "markdown")},
    }


@pytest.fixture(scope="module")
def flat_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    folder = tmp_path_factory.mktemp("flat")
    return folder, _flat_inputs(folder)


@pytest.mark.parametrize(
    "case",
    ["ragged-csv", "distinct-lines", "long-values", "long-ids-jsonl", "long-ids-csv", "long-ids-markdown"],
)
def test_memory_stays_flat_whatever_the_records(
    flat_inputs: tuple[Path, dict[str, list[str]]], case: str
) -> None:
    """Error entries are written as they come, a block of long lines holds fewer of them, and only small
    records, a bounded amount in all, and short texts are remembered: memory stays flat."""
    from test_hostile_answers import peak_of_run

    folder, cases = flat_inputs
    code, _, rss, out, err = peak_of_run(*cases[case], cwd=folder)
    assert code == 1, err
    assert b"Traceback" not in err
    assert out.count(b"\n") > 0
    assert rss < FLAT_MB, rss

"""Parquet and Arrow inputs that are not what they seem: pipes, devices, broken and odd files.

A pipe or device named on the command line is read as the other formats read
one (`tests/test_folders.py`): as a stream, once its writer comes, held in memory
whole (these formats cannot be read front to back); a file that cannot be read
is an error entry in its place, exit 1; nothing hangs, nothing gives a traceback.
Every run here has a time limit.
"""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import write_when_opened

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

import triage  # noqa: E402
from triage.batch import arrowfiles  # noqa: E402
from triage.batch.run import evaluate_files  # noqa: E402
from triage.io.inputs import InputFile, find_inputs  # noqa: E402
from triage.io.writers import make_writer  # noqa: E402

TIMEOUT = 60
PACK = triage.load_rulepack()
ROWS = [
    {"id": "s", "red_flags": "stroke_signs"},
    {"id": "f", "red_flags": "none", "cause": "fshd", "severity": "mild"},
    {"id": "b", "red_flags": "none", "cause": "fshd", "severity": "sever"},
]


def table(rows: list[dict[str, Any]] = ROWS) -> Any:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({name: [r.get(name) for r in rows] for name in names})


def parquet_bytes(data: Any = None, **options: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table() if data is None else data, sink, **options)
    return sink.getvalue()


def arrow_bytes(data: Any = None, *, stream: bool = False) -> bytes:
    data = table() if data is None else data
    sink = pa.BufferOutputStream()
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(sink, data.schema) as writer:
        writer.write_table(data)
    return bytes(sink.getvalue())


def evaluate(
    *args: str, cwd: Path, stdin: bytes | None = None, pass_fds: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[bytes]:
    options = [] if "-o" in args else ["--compact", "--format", "jsonl"]
    return subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *options, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        pass_fds=pass_fds,
    )


def entries(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def outcomes(out: bytes) -> list[tuple[str, str | None]]:
    """(source, urgency) of each entry; None for a refused record."""
    return [(e["source"], e.get("urgency")) for e in entries(out)]


def file_error(out: bytes) -> str:
    """The message of the one entry, a file error."""
    (entry,) = entries(out)
    assert entry.keys() == {"id", "source", "errors"}
    (error,) = entry["errors"]
    assert error["field"] == "(file)"
    message: str = error["message"]
    return message


@pytest.fixture
def in_process() -> Iterator[None]:
    """Undo what `triage evaluate` does to its process (the SIGTERM handler, a frozen collector) when
    it runs inside the test process."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)
    gc.unfreeze()


# -- pipes and devices named on the command line --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("live.parquet", parquet_bytes()),
        ("live.arrow", arrow_bytes()),
        ("live.feather", arrow_bytes()),
        ("live.arrows", arrow_bytes(stream=True)),
    ],
)
def test_a_named_pipe_with_a_columnar_name_is_read_once_its_writer_comes(
    tmp_path: Path, name: str, data: bytes
) -> None:
    """As a pipe named `live.jsonl` is: waited for, read whole, and evaluated, its rows numbered from 0."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "evaluate", "--compact", "--format", "jsonl", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    write_when_opened(fifo, data, process)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, err  # the third row is invalid
    assert outcomes(out) == [(f"{fifo}#0", "emergency"), (f"{fifo}#1", "routine"), (f"{fifo}#2", None)]
    assert b"Traceback" not in err


@pytest.mark.parametrize("name", ["junk.parquet", "junk.arrow"])
def test_a_named_pipe_of_junk_is_an_error_entry(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "evaluate", "--compact", "--format", "jsonl", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    write_when_opened(fifo, b"PAR1 and then not Parquet at all" * 100, process)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, err
    kind = "Parquet" if name.endswith(".parquet") else "Arrow IPC"
    assert file_error(out).startswith(f"{fifo}: cannot be read as {kind}: ")
    assert b"Traceback" not in err


def test_standard_input_by_another_name_is_read_as_a_stream(tmp_path: Path) -> None:
    """`/dev/stdin` behind a `.parquet` name, with a pipe or a file on standard input; `/dev/fd/N` of a
    pipe with --input-format: each read in full, as `-` is."""
    (tmp_path / "in.parquet").symlink_to("/dev/stdin")
    piped = evaluate("in.parquet", cwd=tmp_path, stdin=parquet_bytes())
    assert outcomes(piped.stdout) == [
        ("in.parquet#0", "emergency"),
        ("in.parquet#1", "routine"),
        ("in.parquet#2", None),
    ]
    (tmp_path / "answers.parquet").write_bytes(parquet_bytes())
    with open(tmp_path / "answers.parquet", "rb") as redirected:
        from_file = subprocess.run(
            [sys.executable, "-m", "triage", "evaluate", "--compact", "in.parquet"],
            cwd=tmp_path,
            stdin=redirected,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert outcomes(from_file.stdout) == outcomes(piped.stdout)
    read_end, write_end = os.pipe()
    data = arrow_bytes(stream=True)
    writer = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)), daemon=True)
    writer.start()
    name = f"/dev/fd/{read_end}"
    done = evaluate(name, "--input-format", "arrow", cwd=tmp_path, pass_fds=(read_end,))
    os.close(read_end)
    writer.join(TIMEOUT)
    assert done.returncode == 1, done.stderr
    assert [u for _, u in outcomes(done.stdout)] == ["emergency", "routine", None]


def test_an_empty_device_is_an_error_entry(tmp_path: Path) -> None:
    done = evaluate("/dev/null", "--input-format", "parquet", cwd=tmp_path)
    assert done.returncode == 1
    assert file_error(done.stdout).startswith("/dev/null: cannot be read as Parquet: ")
    (tmp_path / "null.arrow").symlink_to("/dev/null")
    done = evaluate("null.arrow", cwd=tmp_path)
    assert done.returncode == 1
    assert file_error(done.stdout).startswith("null.arrow: cannot be read as Arrow IPC: ")


@pytest.mark.parametrize("name", ["zero.parquet", "zero.arrow"])
def test_an_endless_device_is_read_no_further_than_the_limit(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/dev/zero` behind a Parquet or Arrow name never ends: what is held in memory to read it stops at
    `STREAM_BYTES` (made small here), and the file is an error entry saying what to do."""
    monkeypatch.setattr(arrowfiles, "STREAM_BYTES", 1 << 16)
    (tmp_path / name).symlink_to("/dev/zero")
    monkeypatch.chdir(tmp_path)
    (file,) = find_inputs([name]).files
    assert file.stream  # named on the command line: read as a stream
    got: list[Any] = []
    worker = threading.Thread(target=lambda: got.extend(arrowfiles.items(file, PACK)), daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    assert not worker.is_alive(), "the run read /dev/zero for ever"
    kind = "Parquet" if name.endswith(".parquet") else "Arrow IPC"
    ((source, unreadable),) = got
    assert source == name
    assert unreadable.message == (
        f"{name}: more than 64 KiB to read as {kind} from standard input or a pipe, which is held in "
        "memory whole; save it as a file and name the file (a file is read a batch of rows at a time)."
    )


@pytest.mark.parametrize("output", ["jsonl", "parquet"])
def test_a_columnar_file_swapped_for_a_pipe_after_the_walk_does_not_hang(tmp_path: Path, output: str) -> None:
    """Found as a regular file, then replaced by a pipe with no writer before it is read: opened without
    waiting and looked at before Arrow reads it, so it is an error entry at once."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(parquet_bytes())
    (folder / "b.arrow").write_bytes(arrow_bytes())
    inputs = find_inputs([str(folder)])
    assert [Path(f.path).name for f in inputs.files] == ["a.parquet", "b.arrow"]
    for file in inputs.files:
        os.unlink(file.path)
        os.mkfifo(file.path)
    out = io.BytesIO()

    def run() -> None:
        if output == "jsonl":
            writer = make_writer("jsonl", PACK, compact=True)
            evaluate_files(inputs.files, PACK, writer, out, tables=arrowfiles.items)
        else:
            arrowfiles.evaluate_columnar(inputs.files, PACK, out, "parquet")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():  # let the stuck open go, then fail
        for file in inputs.files:
            with open(file.path, "wb"):
                pass
        pytest.fail("a file swapped for a pipe made the run wait")
    if output == "jsonl":
        got = [(e["source"], e["errors"][0]["message"]) for e in entries(out.getvalue())]
    else:
        rows = pq.read_table(pa.BufferReader(out.getvalue())).to_pylist()
        got = [(r["source"], r["errors"][0]["message"]) for r in rows]
    assert got == [
        (f.path, f"{f.path}: cannot be read: not a regular file but a named pipe.") for f in inputs.files
    ]


# -- broken files -------------------------------------------------------------------------------------------


def _cut(data: bytes, at: int) -> bytes:
    return data[:at]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _rename(data: bytes) -> bytes:
    """The column name `zzzzzz` made not UTF-8, at the same length (the file stays well formed)."""
    assert b"zzzzzz" in data
    return data.replace(b"zzzzzz", b"zz\xffzzz")


PARQUET = parquet_bytes(table([{**r, "zzzzzz": "x"} for r in ROWS]), row_group_size=1)
ARROW = arrow_bytes(table([{**r, "zzzzzz": "x"} for r in ROWS]))
ARROWS = arrow_bytes(table([{**r, "zzzzzz": "x"} for r in ROWS]), stream=True)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.parquet", b"", "Parquet file size is 0 bytes."),
        ("magic.parquet", b"PAR1", "Parquet file size is 4 bytes, smaller than the minimum file footer"),
        ("half.parquet", _cut(PARQUET, len(PARQUET) // 2), "Parquet magic bytes not found in footer."),
        ("footless.parquet", _cut(PARQUET, len(PARQUET) - 1), "Parquet magic bytes not found in footer."),
        ("name.parquet", _rename(PARQUET), "a column name is not UTF-8 text."),
        ("name.arrow", _rename(ARROW), "a column name is not UTF-8 text."),
        ("name.arrows", _rename(ARROWS), "a column name is not UTF-8 text."),
        ("half.arrow", _cut(ARROW, len(ARROW) // 2), ""),
        ("empty.arrow", b"", ""),
    ],
)
def test_a_broken_file_is_one_error_entry_and_the_next_file_is_read(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    """Truncated, empty, or with a column name that is not text: a file error naming the file, then the
    records of the next file; exit 1, in JSON Lines and in Parquet out."""
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.parquet").write_bytes(parquet_bytes())
    done = evaluate(name, "good.parquet", cwd=tmp_path)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    first, *rest = entries(done.stdout)
    kind = "Parquet" if name.endswith(".parquet") else "Arrow IPC"
    assert first["source"] == name
    assert first["errors"][0]["message"].startswith(f"{name}: cannot be read as {kind}: {message}")
    assert [e["source"] for e in rest] == [f"good.parquet#{i}" for i in range(3)]
    columnar = evaluate(name, "good.parquet", "-o", "out.parquet", cwd=tmp_path)
    assert columnar.returncode == 1
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["source"], r["errors"]) for r in rows][:1] == [(name, first["errors"])]


def test_a_file_broken_after_its_first_rows_keeps_them_and_says_where_reading_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Parquet file whose last row group is damaged: the rows read before it are evaluated, then one
    error entry says at which row reading stopped (rows are read a row at a time here, so that the damage
    is met after the first batch), in both readers."""
    monkeypatch.setattr(arrowfiles, "READ_ROWS", 1)
    data = parquet_bytes(row_group_size=1, compression="none")
    column = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(2).column(0)
    at = column.dictionary_page_offset or column.data_page_offset
    path = tmp_path / "late.parquet"
    path.write_bytes(data[:at] + b"\xff" * 8 + data[at + 8 :])
    file = InputFile(str(path), "late.parquet", "parquet", len(data))
    items = list(arrowfiles.items(file, PACK))
    assert [source for source, _ in items] == ["late.parquet#0", "late.parquet#1", "late.parquet#2"]
    message = items[2][1].message
    assert message.startswith("late.parquet: cannot be read as Parquet: ")
    assert message.endswith("Reading stopped at row 2.")
    out = io.BytesIO()
    summary = arrowfiles.evaluate_columnar([file], PACK, out, "parquet")
    rows = pq.read_table(pa.BufferReader(out.getvalue())).to_pylist()
    assert [(r["source"], r["urgency"]) for r in rows] == [
        ("late.parquet#0", "emergency"),
        ("late.parquet#1", "routine"),
        ("late.parquet#2", None),
    ]
    assert rows[2]["errors"] == [{"field": "(record)", "message": message}]
    assert (summary.records, summary.valid, summary.invalid) == (3, 2, 1)
    lines = io.BytesIO()
    by_rows = evaluate_files([file], PACK, make_writer("jsonl", PACK), lines, tables=arrowfiles.items)
    assert [(e["source"], e.get("errors")) for e in entries(lines.getvalue())] == [
        (r["source"], r["errors"]) for r in rows
    ]
    assert by_rows.lines(PACK) == summary.lines(PACK)


FORMATS = {"parquet": PARQUET, "arrow": ARROW, "arrows": ARROWS}


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(sorted(FORMATS)),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    renamed=st.none() | st.tuples(st.integers(0, 5), st.integers(0x80, 0xFF)),
    cut=st.none() | st.floats(0, 1),
)
def test_damaged_files_give_entries_never_a_traceback(
    tmp_path: Path,
    kind: str,
    edits: list[tuple[float, int]],
    renamed: tuple[int, int] | None,
    cut: float | None,
) -> None:
    """Bytes changed anywhere (in a column's name, too), or the file cut anywhere: every record read is
    an entry, and what cannot be read an error entry naming the file, in both readers (row by row, and
    Parquet out)."""
    data = bytearray(FORMATS[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    if renamed is not None:
        data = bytearray(
            bytes(data).replace(b"zzzzzz", b"z" * renamed[0] + bytes([renamed[1]]) + b"z" * (5 - renamed[0]))
        )
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / f"damaged.{kind}"
    path.write_bytes(bytes(data))
    file = InputFile(str(path), "damaged", "parquet" if kind == "parquet" else "arrow", len(data))
    items = list(arrowfiles.items(file, PACK))
    assert items, "not even an error entry"
    for source, _ in items:
        assert source == "damaged" or source.startswith("damaged#")
    out = io.BytesIO()
    summary = arrowfiles.evaluate_columnar([file], PACK, out, "parquet")
    rows = pq.read_table(pa.BufferReader(out.getvalue())).num_rows
    assert rows == summary.records + (1 if summary.unreadable_files else 0)


# -- columns of unexpected types, and files with no rows -------------------------------------------------


def test_columns_of_unexpected_types_are_refused_with_messages(tmp_path: Path) -> None:
    """A struct, a list, binary that is not UTF-8, a timestamp, a duration, a map where an answer goes:
    each refused in its field with a message saying what it is and what is allowed; a red flag stated
    beside them still gives its alarm."""
    palsy = {"red_flags": "none", "cause": "peripheral_facial_paralysis", "severity": "mild"}
    data = pa.table(
        {
            "id": ["a", "b", "c"],
            "red_flags": pa.array([{"x": "none"}, {"x": "stroke_signs"}, None]).cast(
                pa.struct([("x", pa.string())])
            ),
            "cause": pa.array([["fshd"], ["fshd"], [palsy["cause"]]]),
            "severity": pa.array([b"\xff", b"mild", b"mild"], pa.binary()),
            "months_since_paralysis": pa.array([datetime(2024, 1, 1), None, datetime(2024, 1, 1)]),
            "treated_early": pa.array([timedelta(days=1)] * 3),
            "eye_problems": pa.array([[("a", 1)]] * 3, pa.map_(pa.string(), pa.int64())),
        }
    )
    pq.write_table(data, tmp_path / "odd.parquet")
    done = evaluate("odd.parquet", cwd=tmp_path)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    got = entries(done.stdout)
    assert [e["source"] for e in got] == ["odd.parquet#0", "odd.parquet#1", "odd.parquet#2"]
    first = {e["field"]: e["message"] for e in got[0]["errors"]}
    assert first["red_flags"].startswith("a mapping is not a list of choices.")
    assert first["cause"].startswith("a list is not one of the choices.")
    assert first["severity"].startswith("binary data is not one of the choices.")
    alarm = {e["field"]: e["message"] for e in got[1]["errors"]}["(urgency)"]
    assert alarm.startswith("this record states stroke_signs")
    third = {e["field"]: e["message"] for e in got[2]["errors"]}
    assert third["red_flags"].startswith("this question was asked, so it needs an answer.")
    # The same errors, field for field, in a Parquet results file.
    columnar = evaluate("odd.parquet", "-o", "out.parquet", cwd=tmp_path)
    assert columnar.returncode == 1
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["errors"] for r in rows] == [e["errors"] for e in got]


def test_the_row_reading_of_a_timestamp_and_a_duration_when_asked(tmp_path: Path) -> None:
    record = {
        "red_flags": "none",
        "cause": "peripheral_facial_paralysis",
        "severity": "mild",
        "treated_early": "yes",
        "eye_problems": "none",
    }
    pq.write_table(
        pa.table(
            {**{k: [v, v] for k, v in record.items()}, "months_since_paralysis": [datetime(2024, 1, 1), None]}
        ),
        tmp_path / "when.parquet",
    )
    pq.write_table(
        pa.table({**{k: [v] for k, v in record.items()}, "months_since_paralysis": [timedelta(days=90)]}),
        tmp_path / "how-long.parquet",
    )
    done = evaluate("when.parquet", "how-long.parquet", cwd=tmp_path)
    assert done.returncode == 1
    messages = [e["errors"][0]["message"] for e in entries(done.stdout)]
    assert messages[0].startswith("the date and time 2024-01-01 00:00:00 is not a whole number.")
    assert messages[1].startswith("this question was asked, so it needs an answer.")
    assert "is not a whole number" in messages[2]


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("rows.parquet", lambda p: pq.write_table(table().slice(0, 0), p)),
        ("columns.parquet", lambda p: pq.write_table(pa.table({}), p)),
        ("rows.arrow", lambda p: p.write_bytes(arrow_bytes(table().slice(0, 0)))),
        ("rows.arrows", lambda p: p.write_bytes(arrow_bytes(table().slice(0, 0), stream=True))),
    ],
)
def test_a_file_with_no_rows_is_an_error_entry(
    tmp_path: Path, name: str, write: Callable[[Path], Any]
) -> None:
    """No rows is no records, as an empty JSON Lines file: an error entry for the file, exit 1, from a
    file and from standard input alike."""
    write(tmp_path / name)
    done = evaluate(name, cwd=tmp_path)
    assert done.returncode == 1
    assert file_error(done.stdout) == f"{name}: the file has no rows; there are no records."
    fmt = "parquet" if name.endswith(".parquet") else "arrow"
    piped = evaluate("-", "--input-format", fmt, cwd=tmp_path, stdin=(tmp_path / name).read_bytes())
    assert piped.returncode == 1
    assert file_error(piped.stdout) == "<stdin>: the file has no rows; there are no records."
    assert b"1 file (1 could not be read), 0 records" in piped.stderr


def test_a_stream_of_many_rows_gives_what_the_file_gives(tmp_path: Path) -> None:
    """A pipe carrying many rows gives the entries of the same rows as a regular file, in order."""
    rows = [{"id": f"r{i}", "red_flags": "none", "cause": "opmd", "severity": "mild"} for i in range(5000)]
    data = parquet_bytes(table(rows), row_group_size=1000)
    (tmp_path / "a.parquet").write_bytes(data)
    from_file = evaluate("a.parquet", cwd=tmp_path)
    piped = evaluate("-", "--input-format", "parquet", cwd=tmp_path, stdin=data)
    assert from_file.returncode == piped.returncode == 0
    strip = [orjson.loads(line) | {"source": None} for line in from_file.stdout.splitlines()]
    assert [orjson.loads(line) | {"source": None} for line in piped.stdout.splitlines()] == strip

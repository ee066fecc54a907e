"""`triage.evaluate_table`: a table of answer rows in, a table of results out, equal to `evaluate` row by row.

The reference is the row-at-a-time library: each row, read as the record
`triage.batch.columnar.records` says it stands for, evaluated by `triage.evaluate_many`.
"""

from __future__ import annotations

import decimal
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")

import triage  # noqa: E402
from triage.batch import columnar  # noqa: E402
from triage.batch.run import evaluate_files  # noqa: E402
from triage.core.answers import read_id  # noqa: E402
from triage.io.inputs import InputFile  # noqa: E402
from triage.io.writers import JsonLinesWriter  # noqa: E402

PACK = triage.load_rulepack()
QUESTIONS = list(PACK.questions)
CORE = ["id", "urgency", "prognosis", "suggestions", "warnings", "errors", "disclaimer"]
TEXTS = [
    "red_flags", "cause", "severity", "months_since_paralysis", "treated_early", "worsening",
    "related_findings",
]  # fmt: skip
OPTIONS = sorted({option.id for q in PACK.document.questions for option in q.options})
STRINGS = [
    *OPTIONS,
    "none", "None", "NONE", "[]", "", " ", ";", " ; ", " mild ", "sever", "stroke_signs;sudden_onset",
    "none;stroke_signs", "family_history; shoulder_arm_weakness", "6", " 6 ", "6.0", "6.5", "-1", "1201",
    "+3", "true", "yes ", "٣",
]  # fmt: skip


def expected_rows(table: Any) -> list[dict[str, object]]:
    """What `evaluate` gives for each row, as the row `evaluate_table` should give."""
    rows = []
    for entry in triage.evaluate_many(columnar.records(table)):
        if isinstance(entry, triage.Result):
            rows.append(
                {
                    "id": entry.id,
                    "urgency": entry.urgency,
                    "prognosis": entry.prognosis.category,
                    "suggestions": [s.id for s in entry.suggestions],
                    "warnings": [p.model_dump() for p in entry.warnings],
                    "errors": None,
                    "disclaimer": entry.disclaimer,
                }
            )
        else:
            rows.append(
                {
                    "id": entry.id,
                    "urgency": None,
                    "prognosis": None,
                    "suggestions": None,
                    "warnings": None,
                    "errors": [p.model_dump() for p in entry.errors],
                    "disclaimer": None,
                }
            )
    return rows


def got_rows(result: Any) -> list[dict[str, object]]:
    return [{k: row[k] for k in CORE} for row in result.to_pylist()]


# -- columns of every kind ----------------------------------------------------------------------------------


def _strings(nullable: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(STRINGS), st.text(max_size=4)) | nullable


NULL = st.none()
KINDS: dict[str, tuple[Callable[[], Any], st.SearchStrategy[Any]]] = {
    "string": (pa.string, _strings(NULL)),
    "large_string": (pa.large_string, _strings(NULL)),
    "string_view": (pa.string_view, _strings(NULL)),
    "dictionary": (lambda: pa.dictionary(pa.int32(), pa.string()), _strings(NULL)),
    "dictionary_of_views": (lambda: pa.dictionary(pa.uint32(), pa.string_view()), _strings(NULL)),  # polars
    "int64": (
        pa.int64,
        st.sampled_from([0, 1, 3, 6, 12, -1, 1200, 1201, 2**40]) | st.integers(-3, 1300) | NULL,
    ),
    "int8": (pa.int8, st.integers(-128, 127) | NULL),
    "uint64": (pa.uint64, st.sampled_from([0, 6, 2**64 - 1]) | NULL),
    "float64": (
        pa.float64,
        st.sampled_from([0.0, -0.0, 1.0, 6.0, 6.5, 1200.0, 1201.0, -1.0, math.nan, math.inf, 1e300]) | NULL,
    ),
    "float32": (pa.float32, st.sampled_from([0.0, -0.0, 6.0, 0.1, math.nan]) | NULL),
    "bool": (pa.bool_, st.booleans() | NULL),
    "list": (lambda: pa.list_(pa.string()), st.lists(_strings(NULL), max_size=3) | NULL),
    "large_list": (lambda: pa.large_list(pa.string()), st.lists(st.sampled_from(STRINGS), max_size=3) | NULL),
    "list_of_ints": (lambda: pa.list_(pa.int64()), st.lists(st.integers(0, 3) | NULL, max_size=2) | NULL),
    "list_of_floats": (
        lambda: pa.list_(pa.float64()),
        st.lists(st.sampled_from([0.0, -0.0]), max_size=2) | NULL,
    ),
    "null": (pa.null, NULL),
    "decimal": (
        lambda: pa.decimal128(10, 2),
        st.sampled_from([decimal.Decimal("6"), decimal.Decimal("6.50"), decimal.Decimal("-1")]) | NULL,
    ),
    "binary": (pa.binary, st.sampled_from([s.encode() for s in STRINGS[:20]] + [b"\xff"]) | NULL),
    "struct": (
        lambda: pa.struct([("a", pa.int64())]),
        st.fixed_dictionaries({"a": st.integers(0, 2)}) | NULL,
    ),
    # Refused in a question's column, and telling apart only by the options they state (an alarm's).
    "struct_of_strings": (
        lambda: pa.struct([("a", pa.string())]),
        st.fixed_dictionaries({"a": st.sampled_from(STRINGS) | NULL}) | NULL,
    ),
    "list_of_lists": (
        lambda: pa.list_(pa.list_(pa.string())),
        st.lists(st.lists(st.sampled_from(STRINGS), max_size=2), max_size=2) | NULL,
    ),
}
NAMES = ["id", *QUESTIONS, "sevrity", "notes", "Cause"]


def _array(kind: str, values: list[Any]) -> Any:
    make, _ = KINDS[kind]
    if kind == "dictionary":
        return pa.array(values, pa.string()).dictionary_encode()
    if kind == "dictionary_of_views":
        encoded = pa.array(values, pa.string()).dictionary_encode()
        return pa.DictionaryArray.from_arrays(
            encoded.indices.cast(pa.uint32()), encoded.dictionary.cast(pa.string_view())
        )
    return pa.array(values, make())


@st.composite
def tables(draw: st.DrawFn, max_rows: int = 8) -> Any:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=8))
    if draw(st.booleans()) and "red_flags" not in names:
        names.append("red_flags")  # most tables have one; some do not
    rows = draw(st.integers(0, max_rows))
    arrays = []
    for name in names:
        preferred = ["string", "dictionary", "list", "int64", "bool"] if name in QUESTIONS else ["string"]
        kind = draw(st.sampled_from(preferred) | st.sampled_from(sorted(KINDS)))
        values = draw(st.lists(KINDS[kind][1], min_size=rows, max_size=rows))
        arrays.append(_array(kind, values))
    if not names:
        return pa.table({})
    return pa.Table.from_arrays(arrays, names=names)


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_evaluate_table_equals_evaluate_row_by_row(table: Any) -> None:
    """Mixed valid, invalid and odd-typed columns: each row gets exactly what `evaluate` gives its record."""
    result = columnar.evaluate_table(table)
    assert result.num_rows == table.num_rows
    assert result.schema == columnar.result_schema()
    assert got_rows(result) == expected_rows(table)


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=12), st.integers(1, 5))
def test_batch_after_batch_equals_evaluate(table: Any, size: int) -> None:
    """One evaluator over many batches (what it learnt from one is used for the next) gives the same."""
    evaluator = columnar.TableEvaluator(PACK)
    out = [evaluator.evaluate(batch) for batch in table.to_batches(max_chunksize=size)]
    result = pa.Table.from_batches(out, schema=evaluator.schema)
    assert got_rows(result) == expected_rows(table)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(tables(max_rows=6))
def test_texts_are_those_of_the_result(table: Any) -> None:
    """`texts=True` adds each result's texts: urgency and prognosis label and text, suggestion texts,
    explanation."""
    result = columnar.evaluate_table(table, texts=True).to_pylist()
    for row, entry in zip(result, triage.evaluate_many(columnar.records(table)), strict=True):
        if isinstance(entry, triage.RecordError):
            assert [row[k] for k in ("urgency_text", "suggestion_texts", "explanation")] == [None] * 3
            continue
        assert row["urgency_label"] == entry.urgency_advice.label
        assert row["urgency_text"] == entry.urgency_advice.text
        assert row["prognosis_label"] == entry.prognosis.label
        assert row["prognosis_text"] == entry.prognosis.text
        assert row["suggestion_texts"] == [s.text for s in entry.suggestions]
        assert row["explanation"] == [e.model_dump() for e in entry.explanation]


# -- examples -------------------------------------------------------------------------------------------------


def test_the_row_reading_of_each_type() -> None:
    """What each Arrow type reads as: null is no answer, decimals are numbers, UTF-8 bytes are text."""
    table = pa.table(
        {
            "id": pa.array([7, None], pa.int64()),
            "red_flags": pa.array([["none"], None], pa.list_(pa.string())),
            "months_since_paralysis": pa.array([decimal.Decimal("6.00"), None], pa.decimal128(5, 2)),
            "cause": pa.array([b"fshd", b"\xff"], pa.binary()),
            "notes": pa.array([None, None], pa.string()),
        }
    )
    assert list(columnar.records(table)) == [
        {"id": 7, "red_flags": ["none"], "months_since_paralysis": 6.0, "cause": "fshd"},
        {"cause": b"\xff"},
    ]


def test_a_column_named_twice_refuses_every_row_as_a_key_given_twice(tmp_path: Path) -> None:
    """As JSON Lines giving a key twice: the same errors, and the id when it is text."""
    table = pa.Table.from_arrays(
        [pa.array(["a", None]), pa.array(["fshd", "fshd"]), pa.array([None, "opmd"]), pa.array(["none"] * 2)],
        names=["id", "cause", "cause", "red_flags"],
    )
    lines = tmp_path / "twice.jsonl"
    lines.write_text(
        '{"id": "a", "cause": "fshd", "cause": null, "red_flags": "none"}\n'
        '{"id": null, "cause": "fshd", "cause": "opmd", "red_flags": "none"}\n'
    )
    out = io.BytesIO()
    evaluate_files([InputFile(str(lines), "twice.jsonl", "jsonl")], PACK, JsonLinesWriter(PACK), out)
    reference = [json.loads(line) for line in out.getvalue().splitlines()]
    rows = got_rows(columnar.evaluate_table(table))
    assert [(r["id"], r["errors"]) for r in rows] == [(e["id"], e["errors"]) for e in reference]
    assert rows[0]["errors"] == [{"field": "cause", "message": reference[0]["errors"][0]["message"]}]


def test_an_unknown_column_counts_where_it_has_a_value() -> None:
    """Null, or a dictionary index that points to a null, is no value: no unknown key in that row."""
    notes = pa.DictionaryArray.from_arrays(pa.array([0, 1, None], pa.int8()), pa.array([None, "x"]))
    table = pa.table({"red_flags": ["stroke_signs"] * 3, "notes": notes})
    rows = got_rows(columnar.evaluate_table(table))
    assert rows == expected_rows(table)
    assert [r["urgency"] for r in rows] == ["emergency", None, "emergency"]


def test_values_refused_alike_keep_apart_the_alarms_they_state() -> None:
    """`{"x": "none"}` and `{"x": "stroke_signs"}` are both refused as a mapping, but only the second
    states a red flag: its row alone gets the alarm note, as `evaluate` gives it, whichever comes first."""
    struct = pa.struct([("x", pa.string())])
    for flags in (["none", "stroke_signs"], ["stroke_signs", "none"]):
        table = pa.table(
            {
                "red_flags": pa.array([{"x": f} for f in flags], struct),
                "related_findings": pa.array([[[f]] for f in flags], pa.list_(pa.list_(pa.string()))),
            }
        )
        rows = got_rows(columnar.evaluate_table(table))
        assert rows == expected_rows(table)
        alarmed = ["(urgency)" in [e["field"] for e in r["errors"]] for r in rows]  # type: ignore[union-attr]
        assert alarmed == [f == "stroke_signs" for f in flags]


def test_an_id_of_the_wrong_type_refuses_the_row_with_the_alarm_its_answers_call_for() -> None:
    table = pa.table({"id": [1.5, 2.0, None], "red_flags": ["stroke_signs", "none", "none"]})
    rows = got_rows(columnar.evaluate_table(table))
    assert rows == expected_rows(table)
    fields = [e["field"] for e in rows[0]["errors"]]  # type: ignore[union-attr]
    assert fields == ["id", "(urgency)"]


@settings(max_examples=200, derandomize=True)
@given(st.text(), st.integers(-(2**63), 2**64 - 1))
def test_ids_read_in_arrow_as_read_id_reads_them(text: str, number: int) -> None:
    """The one reading done per row, not per distinct value: text ids are themselves, whole numbers their
    digits. If `read_id` ever reads them otherwise, this fails and `TableEvaluator._ids` must follow."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return  # Arrow text is UTF-8: a lone surrogate cannot be in a string column
    assert read_id(text) == text
    assert read_id(number) == str(number)
    kind = pa.int64() if number < 2**63 else pa.uint64()
    table = pa.table({"id": pa.array([number], kind), "red_flags": ["none"]})
    assert columnar.evaluate_table(table).column("id").to_pylist() == [str(number)]


def test_each_distinct_value_is_read_once_and_each_combination_decided_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100,000 rows repeating 4 answer combinations (with a free-text column): a handful of reads."""
    reads: list[object] = []
    outcomes: list[object] = []
    real_read, real_outcome = columnar.read_value, columnar.read_outcome

    def read_value(question: Any, raw: object) -> Any:
        reads.append(raw)
        return real_read(question, raw)

    def read_outcome(record: Any, pack: Any) -> Any:
        outcomes.append(record)
        return real_outcome(record, pack)

    distinct_values: list[int] = []
    real_distinct = columnar.distinct

    def distinct(column: Any) -> Any:
        found = real_distinct(column)
        distinct_values.append(len(found.values))
        return found

    monkeypatch.setattr(columnar, "read_value", read_value)
    monkeypatch.setattr(columnar, "read_outcome", read_outcome)
    monkeypatch.setattr(columnar, "distinct", distinct)
    rows = 100_000
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(rows)],
            "red_flags": ["none", " none", "stroke_signs", "none"] * (rows // 4),
            "cause": ["fshd", "fshd", None, "opmd"] * (rows // 4),
            "severity": pa.array(["mild", "mild", None, "sever"] * (rows // 4)).dictionary_encode(),
            "notes": [f"free text {i}" if i % 2 else None for i in range(rows)],  # an unknown key
        }
    )
    result = columnar.evaluate_table(table)
    assert result.column("urgency").to_pylist()[:4] == ["routine", None, "emergency", None]
    assert result.column("errors").to_pylist()[1][0]["field"] == "notes"
    assert len(reads) == 7  # none, " none", stroke_signs; fshd, opmd; mild, sever
    assert len(outcomes) == 4  # the 4 rows that repeat, each read once
    assert max(distinct_values) <= 4  # the free text of the unknown column is never looked at value by value


def test_polars_and_pandas_frames_read_as_the_same_table() -> None:
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    data: dict[str, list[Any]] = {
        "id": ["a", "b", None],
        "red_flags": ["none", None, "stroke_signs"],
        "cause": ["peripheral_facial_paralysis", "fshd", None],
        "severity": ["mild", "mild", None],
        "months_since_paralysis": [3, None, None],
        "treated_early": [True, None, None],
    }
    reference = got_rows(columnar.evaluate_table(pa.table(data)))
    assert reference == expected_rows(pa.table(data))
    assert got_rows(columnar.evaluate_table(pl.DataFrame(data))) == reference
    frame = pd.DataFrame(data, index=[10, 20, 30])  # an index that is not 0, 1, 2: not read as a column
    assert got_rows(columnar.evaluate_table(frame)) == reference
    categorical = pl.DataFrame(data).with_columns(pl.col("cause", "id").cast(pl.Categorical))
    assert got_rows(columnar.evaluate_table(categorical)) == reference
    listed = pl.DataFrame({**data, "red_flags": [["none"], None, ["stroke_signs"]]})
    assert got_rows(columnar.evaluate_table(listed)) == reference


def test_a_stream_is_evaluated_batch_by_batch() -> None:
    table = pa.table({"id": ["a", "b"], "red_flags": ["stroke_signs", "sudden_onset"]})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    out = list(columnar.evaluate_batches(reader))
    assert [u for b in out for u in b.column("urgency").to_pylist()] == ["emergency", "urgent"]
    out = list(columnar.evaluate_batches(iter(table.to_batches(max_chunksize=1))))
    assert sum(b.num_rows for b in out) == 2


def test_anything_else_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="takes a pyarrow Table"):
        columnar.evaluate_table([{"red_flags": "none"}])


def test_evaluate_table_is_exported_but_pyarrow_loads_only_when_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, triage; assert 'pyarrow' not in sys.modules; "
        "import pyarrow as pa; t = triage.evaluate_table(pa.table({'red_flags': ['none']})); "
        "print(t.column('errors').to_pylist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "cause" in done.stdout


FULL_WIDTH_STROKE = "".join(chr(ord(c) + 0xFEE0) if c != "_" else c for c in "stroke_signs")


def test_a_red_flag_in_another_form_or_place_gives_the_same_note_as_row_by_row() -> None:
    """A free-text column naming stroke-signs (a hyphen) or stroke_signs full-width, a red flag in the column of a
    question not asked (a row shifted by a cell), and `red_flags` given as yes: each row gets what
    `evaluate` gives its record, the (urgency) note included."""
    n = 5
    table = pa.table(
        {
            "red_flags": ["none", "none", "none", "yes", "none"],
            "cause": ["fshd"] * n,
            "severity": ["mild"] * n,
            "notes": ["stroke-signs", FULL_WIDTH_STROKE, None, None, "nothing"],
            "worsening": [None, None, "sudden_face_droop", None, "no"],
        }
    )
    rows = got_rows(columnar.evaluate_table(table))
    assert rows == expected_rows(table)
    noted = [any(e["field"] == "(urgency)" for e in row["errors"] or []) for row in rows]
    assert noted == [True, True, True, True, False]
    # A column of plain ASCII text is looked through in Arrow: a hyphen for _ is found there too.
    plain = pa.array(["stroke-signs", "x", None, None, "no"])
    ascii_only = table.drop_columns(["notes"]).append_column("notes", plain)
    rows = got_rows(columnar.evaluate_table(ascii_only))
    assert rows == expected_rows(ascii_only)
    assert any(e["field"] == "(urgency)" for e in rows[0]["errors"])

"""The public library API."""

from __future__ import annotations

import json
import subprocess
import sys
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triage


def test_all_lists_exactly_the_public_names() -> None:
    """__all__ names every public attribute of the package, and nothing else."""
    # Submodules become attributes once imported (by any test); they are not API names.
    public = {n for n, v in vars(triage).items() if not n.startswith("_") and not isinstance(v, ModuleType)}
    assert set(triage.__all__) - {"__version__"} == public
    for name in triage.__all__:
        assert hasattr(triage, name)


def test_evaluate_from_another_directory(tmp_path: object) -> None:
    """The bundled pack is found wherever the program runs."""
    code = "import triage; print(triage.evaluate({'red_flags': [], 'cause': 'fshd', 'severity': 'mild'}).prognosis.category)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "progressive"


def test_evaluate_raises_with_every_problem() -> None:
    """An invalid record raises InvalidAnswers whose message lists each field."""
    with pytest.raises(triage.InvalidAnswers) as caught:
        triage.evaluate({"cause": "x"})
    assert {p.field for p in caught.value.problems} == {"red_flags", "cause"}
    assert "red_flags:" in str(caught.value)


def test_evaluate_many_keeps_order_and_goes_on() -> None:
    """An invalid record gives an error entry in its place; the stream goes on."""
    records = [
        {"id": "a", "red_flags": ["stroke_signs"]},
        {"id": "b"},
        42,
        {"id": "c", "red_flags": ["sudden_onset"]},
    ]
    out = list(triage.evaluate_many(records))
    assert [type(o).__name__ for o in out] == ["Result", "RecordError", "RecordError", "Result"]
    assert [o.id for o in out] == ["a", "b", None, "c"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=20,
)
keys = st.sampled_from(["id", *triage.load_rulepack().questions])


@settings(max_examples=300, derandomize=True)
@given(st.lists(json_values | st.dictionaries(keys, json_values, max_size=8), max_size=5))
def test_evaluate_many_never_raises(records: list[object]) -> None:
    """Any JSON values at all: one entry per record, each a result or an error, never an exception."""
    out = list(triage.evaluate_many(records))
    assert len(out) == len(records)
    for entry in out:
        json.loads(entry.model_dump_json())
        if isinstance(entry, triage.Result):
            assert entry.disclaimer
            assert entry.suggestions

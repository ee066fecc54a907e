"""The closed vocabulary is interpreted by visitors only, and every visitor handles every kind.

A new kind of condition is a model with its `accept`, a member of `Condition`, a
row of `KINDS` and a method of `ConditionVisitor`; mypy --strict then reports
every visitor that does not handle it (and a member without `accept`). These
tests say the same at run time: the kinds agree everywhere, each kind reaches
its own method, and no visitor in the package leaves one out.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import get_args

import pytest
from pydantic import Tag, TypeAdapter

import triage
from triage.core import vocabulary as vocab
from triage.core.vocabulary import KINDS, Condition, ConditionVisitor

EXAMPLES: dict[str, object] = {
    "all": {"all": [{"always": True}]},
    "any": {"any": [{"always": True}]},
    "not": {"not": {"always": True}},
    "term": {"term": "paralysis"},
    "always": {"always": True},
    "in": {"question": "cause", "in": ["fshd"]},
    "includes": {"question": "red_flags", "includes": "stroke_signs"},
    "empty": {"question": "red_flags", "empty": True},
    "at_least": {"question": "months", "at_least": 6},
    "below": {"question": "months", "below": {"param": "long"}},
}
"""One condition of each kind, as a pack writes it."""

EXPECTED_VISITORS = {
    "triage.core.vocabulary.Holds",
    "triage.core.vocabulary.Reasons",
    "triage.core.vocabulary._Parts",
    "triage.packs.verify._Kleene",
    "triage.present.words._Words",
    "triage.interop.schema._Compiler",
    "triage.interop.fhir._EnableWhen",
}
"""The interpreters of the vocabulary: evaluation, what a condition names (for the pack's checks),
three-valued logic, words, JSON Schema and FHIR enableWhen."""


def _members() -> dict[str, type]:
    """The kinds of the `Condition` union, by tag, with the model of each."""
    union = get_args(Condition)[0]
    members = {}
    for member in get_args(union):
        model, *metadata = get_args(member)
        (tag,) = [m.tag for m in metadata if isinstance(m, Tag)]
        members[tag] = model
    return members


MODULES = [m.name for m in pkgutil.walk_packages(triage.__path__, "triage.") if m.name != "triage.__main__"]
"""Every module of the package but `python -m triage`, which runs the command line."""


def _visitors() -> list[type[ConditionVisitor[object]]]:
    """Every visitor defined in the package (all of its modules imported first)."""
    missing = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional extra that is not installed
            missing.append(exc.name or "")
    assert not [name for name in missing if name.startswith("triage")]
    found: list[type[ConditionVisitor[object]]] = []
    pending: list[type[ConditionVisitor[object]]] = [ConditionVisitor]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("triage."):
                found.append(subclass)
    return found


def test_the_kinds_agree_everywhere() -> None:
    """KINDS, the union's tags and the visitor's methods name the same kinds, in the same order."""
    methods = [name for name in vars(ConditionVisitor) if name.startswith("visit_")]
    assert list(_members()) == list(KINDS)
    assert methods == [f"visit_{kind}" for kind in KINDS]
    assert ConditionVisitor.__abstractmethods__ == frozenset(methods)
    assert set(EXAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_accept_calls_the_method_of_the_kind(kind: str) -> None:
    """A condition read from a pack reaches its own kind's method, with itself."""
    condition = TypeAdapter(Condition).validate_python(EXAMPLES[kind])
    assert type(condition) is _members()[kind]
    seen = condition.accept(_Recorder())
    assert seen == (kind, condition)


def test_every_visitor_handles_every_kind() -> None:
    """Each visitor in the package has a method of its own for every kind: none is abstract, none
    falls back on another visitor's."""
    visitors = _visitors()
    names = {f"{v.__module__}.{v.__qualname__}" for v in visitors}
    assert names >= EXPECTED_VISITORS, "an interpreter of the vocabulary is not a ConditionVisitor"
    for visitor in visitors:
        assert not inspect.isabstract(visitor), (
            f"{visitor.__qualname__} leaves out {visitor.__abstractmethods__}"
        )
        for kind in KINDS:
            owner = next(c for c in visitor.__mro__ if f"visit_{kind}" in vars(c))
            assert owner is not ConditionVisitor, f"{visitor.__qualname__} does not handle {kind}"


def test_a_visitor_that_leaves_out_a_kind_cannot_be_made() -> None:
    """The check the type checker makes statically, made at run time too."""
    methods = {f"visit_{kind}": lambda self, condition: None for kind in KINDS[:-1]}
    partial = type("Partial", (ConditionVisitor,), methods)
    with pytest.raises(TypeError, match=f"visit_{KINDS[-1]}"):
        partial()


def test_no_module_but_the_vocabulary_tells_kinds_apart_by_class() -> None:
    """Outside vocabulary.py, no module asks a condition which kind it is: each interpreter is a
    visitor, so the type checker sees every kind it handles."""
    kinds = {model.__name__ for model in _members().values()} | {"Test", "AnyOf"}
    for path in sorted(Path(triage.__file__).parent.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                tested = node.args[1]
                classes = tested.elts if isinstance(tested, ast.Tuple) else [tested]
            elif isinstance(node, ast.MatchClass):
                classes = [node.cls]
            else:
                continue
            named = {getattr(c, "id", None) or getattr(c, "attr", None) for c in classes}
            assert not named & kinds, f"{path}:{node.lineno} tells a condition's kind by its class"


class _Recorder(ConditionVisitor[tuple[str, object]]):
    """Says which method `accept` called, and with what."""

    def visit_all(self, condition: vocab.All) -> tuple[str, object]:
        return "all", condition

    def visit_any(self, condition: vocab.Any) -> tuple[str, object]:
        return "any", condition

    def visit_not(self, condition: vocab.Not) -> tuple[str, object]:
        return "not", condition

    def visit_term(self, condition: vocab.Term) -> tuple[str, object]:
        return "term", condition

    def visit_always(self, condition: vocab.Always) -> tuple[str, object]:
        return "always", condition

    def visit_in(self, condition: vocab.In) -> tuple[str, object]:
        return "in", condition

    def visit_includes(self, condition: vocab.Includes) -> tuple[str, object]:
        return "includes", condition

    def visit_empty(self, condition: vocab.Empty) -> tuple[str, object]:
        return "empty", condition

    def visit_at_least(self, condition: vocab.AtLeast) -> tuple[str, object]:
        return "at_least", condition

    def visit_below(self, condition: vocab.Below) -> tuple[str, object]:
        return "below", condition

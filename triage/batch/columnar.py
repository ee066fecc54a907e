"""Columnar evaluation: Arrow tables in, a table of results out, each distinct answer read once.

    >>> import pyarrow as pa, triage
    >>> table = pa.table({"id": ["a", "b"], "red_flags": ["none", "stroke_signs"],
    ...                   "cause": ["fshd", None], "severity": ["mild", None]})
    >>> triage.evaluate_table(table).column("urgency").to_pylist()
    ['routine', 'emergency']

The answer space is finite, so the work is done per distinct value, not per row.
Each answer column is dictionary-encoded (`pyarrow.compute.dictionary_encode`,
or the dictionary a column already has); each distinct value is read once, by
the one reader (`triage.core.answers.read_value`), into a token: what it reads as
(an option id, a whole number, a set of ids), or the problem with it. The rows'
tokens are combined into one key per row (integer arithmetic), the distinct
keys are found (`dictionary_encode` again), and each distinct combination of
answers is read and decided once by `triage.core.outcomes.read_outcome` — that is,
by `triage.read_answers` and `triage.core.engine.decide` — on a record made of one
raw value per token. The outcomes are mapped back to the rows with `take`.

Why that is exact: `read_answers` looks at an answer only through whether it is
given and what `read_value` makes of it, and at any other key only through its
name; so two rows whose columns give the same tokens read alike. Ids are the
exception, read per row (they are the one answer that is different in every
row): a text id is itself and a whole number is its digits, as
`triage.core.answers.read_id` reads them (a test holds the two to agree); an id of
any other type is read per distinct value by `read_id`.

How a row reads (what `triage.evaluate` would be given for it: `records`):

* a null is no answer, as an empty CSV cell is (a key whose value is null is left out);
* int → int, float → float (NaN and non-whole numbers stay numbers, and are
  refused as the reader refuses them), bool → bool, string → str, list → list,
  decimal → Decimal (read exactly, as a JSON number is: never rounded into a float
  that is whole), binary → str when it is UTF-8 (else bytes, which are refused),
  dictionary-encoded → its values; anything else as `pyarrow` gives it in Python
  (a struct is a mapping, a date a date), for the reader to refuse;
* a column that is not a question id (nor `id`) is an unknown key in each row
  where it is not null;
* a table that names a column twice gives that key twice in every row: each row
  is refused as a JSON record giving a key twice is.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeGuard, cast

import pyarrow as pa
import pyarrow.compute as pc

from triage.batch.summary import Summary
from triage.core.answers import ID_FIELD, AlarmOption, alarm_options, read_id, read_value
from triage.core.engine import Decision
from triage.core.models import Problem
from triage.core.outcomes import MEMO_LIMIT, Outcome, read_outcome
from triage.core.pack import RulePack
from triage.io.readers import Ambiguous, refuse_unclear
from triage.packs.loading import load_rulepack
from triage.present.escape import unicode_text

if TYPE_CHECKING:
    import pandas as pd

AnyArray: TypeAlias = "pa.Array[Any]"
"""An Arrow array of any type (pyarrow's arrays are generic to the type checker only)."""

BATCH_ROWS = 1 << 17
"""Small input batches are put together up to this many rows: the work per batch is per column."""
_KEY_LIMIT = 1 << 62
"""A row key (a number in mixed radix, a digit per varying column) is renumbered before it grows past this."""


class _Absent:
    """In place of an answer: the row gives none (a null)."""

    def __repr__(self) -> str:
        return "ABSENT"


class Stated(NamedTuple):
    """What the value of a key that is no question reads as: the alarm options it states (if any)."""

    options: tuple[AlarmOption, ...]


ABSENT = _Absent()
Token = Hashable
"""What a distinct raw answer reads as: `ABSENT`, an answer value or a `Problem`, or `Stated`."""

PROBLEMS = pa.list_(pa.struct([("field", pa.string()), ("message", pa.string())]))
_CODE = pa.int8()
_TEXT_CODE = pa.int16()


def result_schema(*, texts: bool = False) -> pa.Schema:
    """The columns `evaluate_table` gives, in order (with `texts`, the texts after them)."""
    words = pa.dictionary(_CODE, pa.string())
    fields = [
        pa.field("id", pa.string()),
        pa.field("urgency", words),
        pa.field("prognosis", words),
        pa.field("suggestions", pa.list_(words)),
        pa.field("warnings", PROBLEMS),
        pa.field("errors", PROBLEMS),
        pa.field("disclaimer", words),
        pa.field("rulepack_name", words),
        pa.field("rulepack_version", words),
        pa.field("rulepack_sha256", words),
    ]
    if texts:
        long = pa.dictionary(_TEXT_CODE, pa.string())
        fields += [
            pa.field("urgency_label", long),
            pa.field("urgency_text", long),
            pa.field("prognosis_label", long),
            pa.field("prognosis_text", long),
            pa.field("suggestion_texts", pa.list_(long)),
            pa.field("explanation", pa.list_(pa.struct([("rule", pa.string()), ("text", pa.string())]))),
        ]
    return pa.schema(fields)


def evaluate_table(table: object, *, rulepack: RulePack | None = None, texts: bool = False) -> pa.Table:
    """Evaluate every row of a table of answer records: one result row per input row, in order.

    `table` is a `pyarrow.Table` or `RecordBatch`, a pandas DataFrame (its index
    is not read), or any object with the Arrow C stream interface
    (`__arrow_c_stream__`: a polars DataFrame, a `RecordBatchReader`, a DuckDB
    relation). Each row is read as the record `records` gives for it, and its
    result row holds exactly what `triage.evaluate` gives for that record: the
    id, urgency, prognosis, suggestion ids and warnings of a result, or the
    errors of a refused record (`result_schema` has the columns; null where the
    JSON entry has no such field). `texts` adds the texts of the result.
    """
    batches = input_batches(table)[1]
    evaluator = TableEvaluator(rulepack or load_rulepack(), texts=texts)
    out = [evaluator.evaluate(batch) for batch in rebatched(batches)]
    return pa.Table.from_batches(out, schema=evaluator.schema)


def evaluate_batches(
    batches: Iterable[pa.RecordBatch] | object, *, rulepack: RulePack | None = None, texts: bool = False
) -> Iterator[pa.RecordBatch]:
    """`evaluate_table` for a stream: a result batch for each batch of rows, as they come.

    Takes what `evaluate_table` takes, or any iterable of record batches: it is
    the function Spark's `DataFrame.mapInArrow` wants (see `triage.batch.spark`).
    """
    evaluator = TableEvaluator(rulepack or load_rulepack(), texts=texts)
    stream: Iterable[pa.RecordBatch]
    if _is_table_like(batches) or not isinstance(batches, Iterable):
        stream = input_batches(batches)[1]
    else:
        stream = batches
    for batch in rebatched(stream):
        yield evaluator.evaluate(batch)


def _is_table_like(data: object) -> bool:
    """Whether `input_batches` takes it (a data frame is iterable too, over its columns)."""
    return (
        isinstance(data, (pa.Table, pa.RecordBatch))
        or hasattr(data, "__arrow_c_stream__")
        or hasattr(data, "__arrow_c_array__")
        or _is_pandas(data)
    )


def _is_pandas(data: object) -> TypeGuard[pd.DataFrame]:
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")


def input_batches(table: object) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and record batches of anything `evaluate_table` takes."""
    if isinstance(table, pa.Table):
        return table.schema, iter(table.to_batches())
    if isinstance(table, pa.RecordBatch):
        return table.schema, iter((table,))
    if _is_pandas(table):
        # Through the C stream a pandas index would come along as a column (an unknown key in every row).
        converted = pa.Table.from_pandas(table, preserve_index=False)
        return converted.schema, iter(converted.to_batches())
    if hasattr(table, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(table)
        return reader.schema, iter(reader)
    if hasattr(table, "__arrow_c_array__"):
        batch = pa.record_batch(table)
        return batch.schema, iter((batch,))
    raise TypeError(
        "evaluate_table takes a pyarrow Table or RecordBatch, or a data frame with the Arrow C stream "
        f"interface (polars, pandas); not {type(table).__name__}."
    )


def rebatched(batches: Iterable[pa.RecordBatch], rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The same rows, small batches put together (the work per batch is per column, not per row)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows >= rows and not held:
            yield batch
            continue
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _joined(held)
            held, count = [], 0
    if held:
        yield _joined(held)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def records(table: object) -> Iterator[dict[Any, object]]:
    """Each row as the answer record it reads as (see the module's documentation), in order.

    A table that names a column twice gives `triage.io.readers.Ambiguous` records (every name and
    value in order), which are refused as a JSON record giving a key twice is.
    """
    for batch in input_batches(table)[1]:
        names = batch.schema.names
        columns = [[answer_value(v) for v in column.to_pylist()] for column in batch.columns]
        repeated = _repeated(names)
        for row in zip(*columns, strict=True) if columns else itertools.repeat((), batch.num_rows):
            if repeated:
                yield Ambiguous(list(zip(names, row, strict=True)), repeated)
            else:
                yield {name: value for name, value in zip(names, row, strict=True) if value is not None}


def answer_value(value: object) -> object:
    """A value as `pyarrow` gives it in Python, as the answer it stands for (see the module's doc)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [answer_value(v) for v in value]
    return value


def _repeated(names: Sequence[str]) -> list[str]:
    return [name for name, count in Counter(names).items() if count > 1]


# -- distinct values --------------------------------------------------------------------------------------


@dataclass
class Distinct:
    """A column's distinct values: a code per row (no nulls), and the value of each code (None: a null)."""

    codes: AnyArray
    values: list[object]


def distinct(column: AnyArray) -> Distinct:
    """Find a column's distinct values, in Arrow; each value as `answer_value` makes it.

    Floats are told apart by their bits (a hash table would take -0.0 for 0.0),
    lists by the codes of their items; types no Arrow kernel can hash (structs,
    maps, nested lists) are done in Python, once per row.
    """
    kind = column.type
    if pa.types.is_dictionary(kind):
        assert isinstance(column, pa.DictionaryArray)
        return _coded(column.indices, [answer_value(v) for v in column.dictionary.to_pylist()])
    if pa.types.is_null(kind):
        return Distinct(pa.repeat(pa.scalar(0, pa.int32()), len(column)), [None])
    if pa.types.is_floating(kind):
        bits = column.view(_SAME_WIDTH[kind.bit_width])
        encoded = pc.dictionary_encode(bits, null_encoding="encode")
        assert isinstance(encoded, pa.DictionaryArray)
        return _coded(encoded.indices, encoded.dictionary.view(kind).to_pylist())
    if _is_list(kind):
        found = _distinct_lists(column)
        if found is not None:
            return found
    elif _hashable(kind):
        # Nulls take a code of their own ("encode"), but not for view types: Arrow 26 gives them "" there.
        view = pa.types.is_string_view(kind) or pa.types.is_binary_view(kind)
        encoded = pc.dictionary_encode(column, null_encoding="mask" if view else "encode")
        assert isinstance(encoded, pa.DictionaryArray)
        return _coded(encoded.indices, [answer_value(v) for v in encoded.dictionary.to_pylist()])
    return _distinct_in_python(column)


_SAME_WIDTH = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}


def _coded(indices: AnyArray, values: list[object]) -> Distinct:
    """Codes from dictionary indices: a null index (a null value) becomes a code of its own."""
    if indices.null_count:
        indices = indices.cast(pa.int32()).fill_null(len(values))
        values = [*values, None]
    return Distinct(indices, values)


_LISTS = (
    pa.types.is_list,
    pa.types.is_large_list,
    pa.types.is_fixed_size_list,
    pa.types.is_list_view,
    pa.types.is_large_list_view,
)
_HASHABLE = (
    pa.types.is_integer,
    pa.types.is_boolean,
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_string_view,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_binary_view,
    pa.types.is_fixed_size_binary,
    pa.types.is_decimal,
    pa.types.is_temporal,
)
"""The types `dictionary_encode` takes (not floats: see `distinct`)."""


def _is_list(kind: pa.DataType) -> bool:
    return any(is_kind(kind) for is_kind in _LISTS)


def _hashable(kind: pa.DataType) -> bool:
    return any(is_kind(kind) for is_kind in _HASHABLE)


def _distinct_lists(column: AnyArray) -> Distinct | None:
    """Distinct lists: each list written as the codes of its items joined by commas, and those texts
    encoded. None when the items are not of a type this can do."""
    kind = column.type
    if not isinstance(kind, pa.ListType):
        try:
            column = column.cast(pa.list_(kind.value_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # too long for a list's 32-bit offsets, or not a cast Arrow has
    assert isinstance(column, pa.ListArray)
    item_kind = column.type.value_type
    if not (_hashable(item_kind) or pa.types.is_floating(item_kind) or pa.types.is_null(item_kind)):
        return None
    if len(column) == 0:
        return Distinct(pa.array([], pa.int32()), [])
    # The items this array's lists hold (a slice's only), and offsets into them from 0.
    bounds = column.offsets
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    found = distinct(column.values.slice(start, end - start))
    offsets = pc.subtract(bounds, pa.scalar(start, pa.int32()))
    texts = pa.ListArray.from_arrays(offsets, found.codes.cast(pa.string()), mask=column.is_null())
    joined = pc.dictionary_encode(pc.binary_join(texts, ","))
    assert isinstance(joined, pa.DictionaryArray)
    values: list[object] = []
    for text in joined.dictionary.to_pylist():
        if text is None:
            values.append(None)
        else:
            values.append([found.values[int(code)] for code in text.split(",")] if text else [])
    return _coded(joined.indices, values)


def _distinct_in_python(column: AnyArray) -> Distinct:
    seen: dict[Hashable, int] = {}
    values: list[object] = []
    codes: list[int] = []
    for value in column.to_pylist():
        value = answer_value(value)
        key = _tag(value)
        code = seen.get(key) if key is not None else None
        if code is None:
            code = len(values)
            values.append(value)
            if key is not None:
                seen[key] = code
        codes.append(code)
    return Distinct(pa.array(codes, pa.int32()), values)


def _tag(value: object) -> Hashable | None:
    """A raw value as a key that tells apart what the reader tells apart (1, 1.0 and true; 0.0 and -0.0)."""
    if value is None or isinstance(value, (str, int, bytes)):
        return (type(value), value)
    if isinstance(value, float):
        return (float, repr(value))
    if isinstance(value, (list, tuple)):
        items = [_tag(v) for v in value]
        return None if any(i is None for i in items) else (list, tuple(items))
    if isinstance(value, dict):
        pairs = [(_tag(k), _tag(v)) for k, v in value.items()]
        return None if any(k is None or v is None for k, v in pairs) else (dict, tuple(pairs))
    return None


# -- evaluation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Entry:
    """What every row with one outcome (and one id problem, if any) gets; built once per such pair."""

    outcome: Outcome
    urgency: int | None
    prognosis: int | None
    suggestions: list[int] | None
    """Indices of the pack's suggestions."""
    warnings: list[dict[str, str]] | None
    errors: list[dict[str, str]] | None
    explanation: list[dict[str, str]] | None = None

    @property
    def valid(self) -> bool:
        return self.errors is None


@dataclass
class _Tokens:
    """What the values of one column name read as: each token with a code, kept from batch to batch."""

    codes: dict[Token, int] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    raws: list[object] = field(default_factory=list)
    """A raw value for each token: the record an answer combination is read from is made of these."""


@dataclass
class _Column:
    """One answer column of a batch: its tokens, and a token code per row (None: all rows have `constant`)."""

    name: str
    known: _Tokens
    codes: AnyArray | None
    constant: int = 0


class TableEvaluator:
    """Evaluates record batches for one rule pack, remembering what it read from batch to batch.

    `summary`, when given, counts the rows: valid, invalid, per urgency and prognosis.
    """

    def __init__(self, pack: RulePack, *, texts: bool = False, summary: Summary | None = None) -> None:
        self.pack = pack
        self.texts = texts
        self.summary = summary
        self.schema = result_schema(texts=texts)
        self._levels = {level: i for i, level in enumerate(pack.levels)}
        self._categories = {category: i for i, category in enumerate(pack.categories)}
        self._suggestion_ids = {rule.id: i for i, rule in enumerate(pack.document.suggestions)}
        self._dictionaries = self._words()
        self._zeros: dict[int, AnyArray] = {}
        """Index arrays of zeros for the columns that are the same in every row, for the last batch size."""
        self._forget()

    def _forget(self) -> None:
        """Start afresh (what is remembered is bounded, so memory stays flat whatever the input)."""
        self._read_values: dict[tuple[str, Hashable], Token] = {}
        self._columns: dict[str, _Tokens] = {}
        self._by_codes: dict[tuple[tuple[str, ...], tuple[int, ...]], Entry] = {}
        self._entries: dict[tuple[tuple[str, Token], ...], Entry] = {}
        self._refused: dict[tuple[Outcome, Problem], Entry] = {}

    def _words(self) -> dict[str, AnyArray]:
        pack = self.pack
        words: dict[str, AnyArray] = {
            "urgency": pa.array(list(pack.levels), pa.string()),
            "prognosis": pa.array(list(pack.categories), pa.string()),
            "suggestions": pa.array([rule.id for rule in pack.document.suggestions], pa.string()),
            "disclaimer": pa.array([pack.document.disclaimer], pa.string()),
            "rulepack_name": pa.array([pack.info.name], pa.string()),
            "rulepack_version": pa.array([pack.info.version], pa.string()),
            "rulepack_sha256": pa.array([pack.info.sha256], pa.string()),
        }
        if self.texts:
            levels = list(pack.levels.values())
            categories = list(pack.categories.values())
            words |= {
                "urgency_label": pa.array([level.label for level in levels], pa.string()),
                "urgency_text": pa.array([level.text for level in levels], pa.string()),
                "prognosis_label": pa.array([category.label for category in categories], pa.string()),
                "prognosis_text": pa.array([category.text for category in categories], pa.string()),
                "suggestion_texts": pa.array([rule.text for rule in pack.document.suggestions], pa.string()),
            }
        return words

    # -- one batch ----------------------------------------------------------------------------------------

    def evaluate(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The result rows of one batch of answer rows."""
        names = batch.schema.names
        remembered = sum(len(known.tokens) for known in self._columns.values())
        if max(remembered, len(self._by_codes), len(self._read_values)) > MEMO_LIMIT:
            self._forget()
        repeated = _repeated(names)
        if repeated:
            ids, codes, entries = self._refuse_repeated(batch, repeated)
        else:
            ids, codes, entries = self._read(batch)
        if self.summary is not None:
            self._count(codes, entries, self.summary)
        return self.results(ids, codes, entries)

    def _read(self, batch: pa.RecordBatch) -> tuple[AnyArray, AnyArray, list[Entry]]:
        """Ids, an entry code per row, and the entries."""
        names = batch.schema.names
        columns = [
            self._column(name, batch.column(index)) for index, name in enumerate(names) if name != ID_FIELD
        ]
        combos, found = _combine(
            [(c.codes, len(c.known.tokens), c.constant) for c in columns], batch.num_rows
        )
        answered = tuple(c.name for c in columns)
        by_codes = self._by_codes
        entries = []
        for codes in found:
            entry = by_codes.get((answered, codes))
            if entry is None:
                entry = by_codes[answered, codes] = self._entry(columns, codes)
            entries.append(entry)
        ids: AnyArray = pa.nulls(batch.num_rows, pa.string())
        if ID_FIELD in names:
            ids, combos, entries = self._ids(batch.column(names.index(ID_FIELD)), combos, entries)
        return ids, combos, entries

    def _column(self, name: str, column: AnyArray) -> _Column:
        """Read each distinct value of a column once; a token code per row.

        A question's column is read by `read_value`; a value it refuses is told apart
        from another refused alike by the alarm options it states (`{"x": "stroke_signs"}`
        and `{"x": "none"}` are both "a mapping", but only one calls for an alarm). A
        column that is no question is an unknown key in each row that gives it, and its
        value matters only for the alarm options it states (an error entry says what a
        stated red flag calls for: `triage.core.answers.AlarmOptions.stated`), so that
        is all that is read of it.
        """
        question = self.pack.questions.get(name)
        alarms = alarm_options(self.pack)
        read: Callable[[object], Token]
        if question is None:
            silent = self._silent(name, column)
            if silent is not None:
                return silent
            read = lambda raw: Stated(tuple(alarms.stated([(name, raw)])))  # noqa: E731
        else:

            def read(raw: object) -> Token:
                value = read_value(question, raw)
                if isinstance(value, Problem):
                    return (value, Stated(tuple(alarms.stated([(name, raw)]))))
                return value

        found = distinct(column)
        read_values = self._read_values
        known = self._columns.setdefault(name, _Tokens())
        codes: list[int] = []
        for raw in found.values:
            if raw is None:
                token: Token = ABSENT
            else:
                key = _tag(raw)
                token = read_values.get((name, key)) if key is not None else None
                if token is None:
                    token = read(raw)
                    if key is not None:
                        read_values[name, key] = token
            codes.append(_code(known, token, raw))
        if len(set(codes)) == 1:
            return _Column(name, known, None, codes[0])
        return _Column(name, known, pc.take(pa.array(codes, pa.int32()), found.codes))

    def _silent(self, name: str, column: AnyArray) -> _Column | None:
        """A text column that is no question and in which no row can state an alarm option: all that
        matters of it is whether each row gives a value, so its values are not read one by one (a
        free-text column costs one pass of a regular expression). None for any other column."""
        alarms = alarm_options(self.pack)
        if alarms.stated([(name, True)]):
            return None  # the column's name is an option: its values say yes or no to it
        texts = column.dictionary if isinstance(column, pa.DictionaryArray) else column
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            return None  # string_view has no regular-expression kernel: read as any other column
        if alarms.anywhere:
            # Compared as `stated` compares (case folded): non-ASCII text is left to it.
            # As `stated` reads ASCII text: `_` may be written as a hyphen.
            pattern = "|".join("[_-]+".join(map(re.escape, o.split("_"))) for o in alarms.anywhere)
            found = pc.match_substring_regex(texts, pattern, ignore_case=True)
            if pc.any(pc.or_(found, pc.invert(pc.string_is_ascii(texts)))).as_py():
                return None
        given = _given(column)
        count = int(pc.sum(given.cast(pa.int32())).as_py() or 0)
        known = self._columns.setdefault(name, _Tokens())
        nothing = Stated(())
        if count == 0:
            return _Column(name, known, None, _code(known, ABSENT, None))
        first = column[int(pc.index(given, pa.scalar(True)).as_py())].as_py()
        present = _code(known, nothing, answer_value(first))
        if count == len(column):
            return _Column(name, known, None, present)
        absent = _code(known, ABSENT, None)
        codes = pc.if_else(given, pa.scalar(present, pa.int32()), pa.scalar(absent, pa.int32()))
        return _Column(name, known, codes)

    def _entry(self, columns: list[_Column], codes: Sequence[int]) -> Entry:
        """The entry for one combination of tokens (a code per column), read and decided once."""
        given = [
            (c, code) for c, code in zip(columns, codes, strict=True) if c.known.tokens[code] is not ABSENT
        ]
        key = tuple((c.name, c.known.tokens[code]) for c, code in given)
        entry = self._entries.get(key)
        if entry is None:
            record = {c.name: c.known.raws[code] for c, code in given}
            entry = self._entries[key] = self.entry_of(read_outcome(record, self.pack))
        return entry

    def entry_of(self, outcome: Outcome, problems: tuple[Problem, ...] | None = None) -> Entry:
        """What every row with this outcome gets (with `problems`: refused for them instead)."""
        decision = outcome.decision
        if problems is None and decision is not None:
            return Entry(
                outcome,
                urgency=self._levels[decision.urgency],
                prognosis=self._categories[decision.prognosis.category],
                suggestions=[self._suggestion_ids[s.id] for s in decision.suggestions],
                warnings=_problems(outcome.warnings),
                errors=None,
                explanation=_explanation(decision) if self.texts else None,
            )
        return Entry(
            outcome,
            urgency=None,
            prognosis=None,
            suggestions=None,
            warnings=None,
            errors=_problems(outcome.problems if problems is None else problems),
        )

    def _ids(
        self, column: AnyArray, combos: AnyArray, entries: list[Entry]
    ) -> tuple[AnyArray, AnyArray, list[Entry]]:
        """The id of each row, as `read_id` reads it; a row whose id is wrong is refused for it."""
        kind = column.type
        if pa.types.is_dictionary(kind):
            assert isinstance(kind, pa.DictionaryType)
            value_kind = kind.value_type
        else:
            value_kind = kind
        if _is_text(value_kind) or pa.types.is_integer(value_kind) or pa.types.is_null(value_kind):
            # Text is itself, a whole number its digits (read_id; a test holds them to agree).
            if isinstance(column, pa.DictionaryArray):  # decoded here: Arrow casts no dictionary of views
                return pc.take(column.dictionary.cast(pa.string()), column.indices), combos, entries
            return column.cast(pa.string()), combos, entries
        found = distinct(column)
        read = [read_id(answer_value(value)) for value in found.values]
        ids = pc.take(pa.array([r if isinstance(r, str) else None for r in read], pa.string()), found.codes)
        if not any(isinstance(r, Problem) for r in read):
            return ids, combos, entries
        pairs, keys = _combine([(combos, len(entries), 0), (found.codes, len(read), 0)], len(column))
        refused: list[Entry] = []
        for combo, code in keys:
            problem = read[code]
            entry = entries[combo]
            if isinstance(problem, Problem):
                entry = self._refused_for_id(entry, problem)
            refused.append(entry)
        wrong = pc.is_in(found.codes, pa.array(_problem_codes(read), pa.int32()))
        ids = pc.if_else(wrong, pa.scalar(None, pa.string()), ids)
        return ids, pairs, refused

    def _refused_for_id(self, entry: Entry, problem: Problem) -> Entry:
        key = (entry.outcome, problem)
        found = self._refused.get(key)
        if found is None:
            problems = entry.outcome.refused_for_id(problem, self.pack)
            found = self._refused[key] = self.entry_of(entry.outcome, problems)
        return found

    def _refuse_repeated(
        self, batch: pa.RecordBatch, repeated: list[str]
    ) -> tuple[AnyArray, AnyArray, list[Entry]]:
        """Every row gives a key twice: each is refused as a JSON record giving that key twice is, with
        the alarm note of what it states (rows read one by one: a table is never meant to be so)."""
        refusals: dict[tuple[Problem, ...], int] = {}
        entries: list[Entry] = []
        codes: list[int] = []
        ids: list[str | None] = []
        for record in records(batch):
            refused = refuse_unclear(record, self.pack)
            assert refused is not None  # it gives a key twice
            code = refusals.get(refused.problems)
            if code is None:
                code = refusals[refused.problems] = len(entries)
                entries.append(self.entry_of(Outcome(None, problems=refused.problems)))
            codes.append(code)
            ids.append(refused.record_id)
        return pa.array(ids, pa.string()), pa.array(codes, pa.int32()), entries

    @staticmethod
    def _count(codes: AnyArray, entries: list[Entry], summary: Summary) -> None:
        if len(entries) == 1:
            pairs: Iterable[tuple[int, int]] = [(0, len(codes))]
        else:
            counted = pc.value_counts(codes)
            values, counts = counted.field("values").to_pylist(), counted.field("counts").to_pylist()
            pairs = [(int(v or 0), int(c or 0)) for v, c in zip(values, counts, strict=True)]
        for code, count in pairs:
            decision = entries[code].outcome.decision
            summary.records += count
            if entries[code].valid and decision is not None:
                summary.valid += count
                summary.urgency[decision.urgency] += count
                summary.prognosis[decision.prognosis.category] += count
            else:
                summary.invalid += count

    def results(self, ids: AnyArray, codes: AnyArray, entries: list[Entry]) -> pa.RecordBatch:
        """Result rows: each row's id, and its entry (a code into `entries`)."""
        rows = len(ids)
        words = self._dictionaries

        def coded(name: str, indices: list[int | None], kind: pa.DataType = _CODE) -> AnyArray:
            small = pa.array(indices, kind)
            # pyarrow-stubs type take() as giving any array, not one of the (integer) type it was given
            return pa.DictionaryArray.from_arrays(pc.take(small, codes), words[name])  # type: ignore[arg-type]

        def taken(values: list[object], kind: pa.DataType) -> AnyArray:
            return pc.take(pa.array(values, kind), codes)

        zeros = self._zeros.get(rows)
        if zeros is None:
            zeros = pa.repeat(pa.scalar(0, _CODE), rows)
            self._zeros = {rows: zeros}

        def constant(name: str) -> AnyArray:
            return pa.DictionaryArray.from_arrays(zeros, words[name])

        urgency = [e.urgency for e in entries]
        prognosis = [e.prognosis for e in entries]
        columns = [
            ids,
            coded("urgency", urgency),
            coded("prognosis", prognosis),
            self._lists(entries, codes, "suggestions", _CODE),
            taken([e.warnings for e in entries], PROBLEMS),
            taken([e.errors for e in entries], PROBLEMS),
            coded("disclaimer", [0 if e.valid else None for e in entries]),
            constant("rulepack_name"),
            constant("rulepack_version"),
            constant("rulepack_sha256"),
        ]
        if self.texts:
            columns += [
                coded("urgency_label", urgency, _TEXT_CODE),
                coded("urgency_text", urgency, _TEXT_CODE),
                coded("prognosis_label", prognosis, _TEXT_CODE),
                coded("prognosis_text", prognosis, _TEXT_CODE),
                self._lists(entries, codes, "suggestion_texts", _TEXT_CODE),
                taken([e.explanation for e in entries], self.schema.field("explanation").type),
            ]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _lists(self, entries: list[Entry], codes: AnyArray, name: str, kind: pa.DataType) -> AnyArray:
        """Each row's suggestions (ids or texts), as lists of dictionary-encoded items: a `take` of
        lists of strings copies every string, of small integers only those."""
        lists = [e.suggestions for e in entries]
        offsets = [0, *itertools.accumulate(len(texts or ()) for texts in lists)]
        indices = pa.array([i for texts in lists for i in texts or ()], kind)
        # pyarrow-stubs: pa.array() of an integer type is not typed as an integer array.
        items = pa.DictionaryArray.from_arrays(indices, self._dictionaries[name])  # type: ignore[arg-type]
        mask = pa.array([texts is None for texts in lists], pa.bool_())
        small = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items, mask=mask)
        return pc.take(small, codes)


def _code(known: _Tokens, token: Token, raw: object) -> int:
    """The code of a token in a column's tokens, given one if it has none yet (with `raw` to stand for it)."""
    code = known.codes.get(token)
    if code is None:
        code = known.codes[token] = len(known.tokens)
        known.tokens.append(token)
        known.raws.append(raw)
    return code


def _given(column: AnyArray) -> AnyArray:
    """Whether each row has a value (a dictionary's index may point to a null)."""
    if isinstance(column, pa.DictionaryArray):
        given: AnyArray = pc.take(column.dictionary.is_valid(), column.indices).fill_null(False)
        return given
    return column.is_valid()


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def _problem_codes(read: list[str | Problem | None]) -> list[int]:
    return [code for code, r in enumerate(read) if isinstance(r, Problem)]


def _problems(problems: Iterable[Problem]) -> list[dict[str, str]]:
    # A message may name a file whose name is not UTF-8, which Arrow text cannot hold: as JSON writes it.
    return [{"field": unicode_text(p.field), "message": unicode_text(p.message)} for p in problems]


def _explanation(decision: Decision) -> list[dict[str, str]]:
    return [{"rule": step.rule, "text": step.text} for step in decision.explanation]


def _combine(
    parts: Sequence[tuple[AnyArray | None, int, int]], rows: int
) -> tuple[AnyArray, list[tuple[int, ...]]]:
    """Number the distinct combinations of codes: a combination number per row, and each one's codes.

    `parts` are (a code per row, or None when every row has the code `constant`;
    how many codes there are; `constant`). The codes are combined as the digits of
    a number in mixed radix (in 32 bits while it fits); a number that would grow
    too large is renumbered (dictionary-encoded) first, and unwound afterwards.
    """
    key: AnyArray | None = None
    bound = 1
    steps: list[tuple[str, Any]] = []
    for codes, count, constant in parts:
        if codes is None:
            steps.append(("constant", constant))
            continue
        if key is not None and bound * count >= _KEY_LIMIT:
            encoded = pc.dictionary_encode(key)
            assert isinstance(encoded, pa.DictionaryArray)
            steps.append(("renumbered", encoded.dictionary))
            key, bound = encoded.indices, len(encoded.dictionary)
        bound *= count
        wide: pa.DataType = pa.int64() if bound >= 1 << 31 else pa.int32()
        digit = codes.cast(wide)
        radix = pa.scalar(count, wide)
        # pyarrow-stubs want a scalar of a numeric type known statically; this one is chosen at run time.
        key = digit if key is None else pc.add(pc.multiply(key.cast(wide), radix), digit)  # type: ignore[arg-type]
        steps.append(("digit", count))
    if key is None:
        return pa.repeat(pa.scalar(0, pa.int32()), rows), [tuple(c for _, _, c in parts)]
    encoded = pc.dictionary_encode(key)
    assert isinstance(encoded, pa.DictionaryArray)
    return encoded.indices, _digits(encoded.dictionary, steps)


def _digits(keys: AnyArray, steps: list[tuple[str, Any]]) -> list[tuple[int, ...]]:
    """The codes each key was made of (for all the keys at once, in Arrow)."""
    columns: list[list[int]] = []
    count = len(keys)
    for step, detail in reversed(steps):
        if step == "constant":
            columns.append([detail] * count)
        elif step == "digit":
            wide = keys.type
            quotient = pc.divide(keys, pa.scalar(detail, wide))
            remainder = pc.subtract(keys, pc.multiply(quotient, pa.scalar(detail, wide)))
            columns.append(cast(list[int], remainder.to_pylist()))
            keys = quotient
        else:
            keys = pc.take(detail, keys)
    return list(zip(*reversed(columns), strict=True)) if columns else [() for _ in range(count)]

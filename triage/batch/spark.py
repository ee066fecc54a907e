"""Scaling out on Spark: `DataFrame.mapInArrow` runs the single-process evaluation on each batch of rows.

    from triage.scale import spark_function, spark_schema
    results = spark_frame.mapInArrow(spark_function(), spark_schema())

Every executor runs the same function as one process does (`triage.batch.columnar`),
so the results are those of the single-process path, row for row. Needs pyspark
(and pyarrow), and no Dask. A rule pack given as a `RulePack` travels to the
executors with the function; with none, each loads the bundled pack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from triage.batch.columnar import evaluate_batches, result_schema
from triage.core.pack import RulePack


def spark_schema(*, texts: bool = False) -> str:
    """The result columns as a Spark DDL string: `frame.mapInArrow(spark_function(), spark_schema())`."""
    return ", ".join(f"{field.name} {_spark_type(field.type)}" for field in plain_schema(texts=texts))


def _spark_type(kind: pa.DataType) -> str:
    if pa.types.is_list(kind):
        assert isinstance(kind, pa.ListType)
        return f"array<{_spark_type(kind.value_type)}>"
    if pa.types.is_struct(kind):
        assert isinstance(kind, pa.StructType)
        return "struct<" + ", ".join(f"{f.name}: {_spark_type(f.type)}" for f in kind) + ">"
    return "string"


def plain_schema(*, texts: bool = False) -> pa.Schema:
    """`result_schema` with every dictionary-encoded column as plain text (for Spark, which takes no
    dictionaries)."""
    return pa.schema([pa.field(f.name, _plain(f.type)) for f in result_schema(texts=texts)])


def _plain(kind: pa.DataType) -> pa.DataType:
    if isinstance(kind, pa.DictionaryType):
        value: pa.DataType = kind.value_type
        return value
    if isinstance(kind, pa.ListType):
        return pa.list_(_plain(kind.value_type))
    return kind


def spark_function(
    rulepack: RulePack | None = None, *, texts: bool = False
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function for Spark's `DataFrame.mapInArrow`: batches of answer rows → batches of results."""
    schema = plain_schema(texts=texts)

    def evaluate(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for results in evaluate_batches(batches, rulepack=rulepack, texts=texts):
            yield results.cast(schema)

    return evaluate

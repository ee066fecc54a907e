"""Scaling out on Dask and Spark, as the library documents it: `from triage.scale import …`.

The code is in `triage.batch.scale`; this module keeps its public names where programs import them.
"""

from triage.batch.scale import (
    Task,
    evaluate_dask,
    evaluate_parquet_folder,
    evaluate_partition,
    plain_schema,
    plan,
    run_task,
    spark_function,
    spark_schema,
)

__all__ = [
    "Task",
    "evaluate_dask",
    "evaluate_parquet_folder",
    "evaluate_partition",
    "plain_schema",
    "plan",
    "run_task",
    "spark_function",
    "spark_schema",
]

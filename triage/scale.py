"""Scaling out on Dask and Spark, where programs import it: `from triage.scale import …`.

Dask is `triage.batch.scale` (`pip install 'triage[dask]'`), Spark
`triage.batch.spark` (pyspark, and no Dask): the Spark names are here whether
or not Dask is installed.
"""

from triage.batch.spark import plain_schema, spark_function, spark_schema

try:
    from triage.batch.scale import (
        Task,
        evaluate_dask,
        evaluate_parquet_folder,
        evaluate_partition,
        plan,
        run_task,
    )
except ModuleNotFoundError as exc:  # no Dask (or pandas): Spark needs neither
    if exc.name is None or exc.name.partition(".")[0] not in ("dask", "pandas"):
        raise

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

"""Many records: streaming run, JSON Lines fast path, jobs, tables, Dask, Spark. May import io and below."""

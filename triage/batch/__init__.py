"""Many records: streaming run, JSON Lines fast path, jobs, tables, Dask, Spark. Imports io and below."""

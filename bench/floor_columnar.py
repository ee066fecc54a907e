"""The floors for Parquet → Parquet: read the same columns the same way, and write them back (or not).

    python bench/floor_columnar.py copy big.parquet out.parquet   # read every batch, write it unchanged
    python bench/floor_columnar.py read big.parquet               # read every batch, nothing else

The reader is the one `triage evaluate` uses (`triage.batch.arrowfiles`): `ParquetFile.iter_batches`
with the same batch size, answer text columns read as dictionaries, each batch checked in full.
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.parquet as pq

from triage.batch.arrowfiles import READ_ROWS


def batches(path: str) -> tuple[pa.Schema, list[str]]:
    schema = pq.read_schema(path)
    text = [f.name for f in schema if f.name != "id" and pa.types.is_string(f.type)]
    return schema, text


def main(mode: str, source: str, target: str | None = None) -> None:
    _, text = batches(source)
    with pq.ParquetFile(source, read_dictionary=text) as parquet:
        writer = None
        for batch in parquet.iter_batches(batch_size=READ_ROWS):
            batch.validate(full=True)
            if mode == "copy":
                assert target is not None
                if writer is None:
                    writer = pq.ParquetWriter(target, batch.schema)
                writer.write_batch(batch)
        if writer is not None:
            writer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])

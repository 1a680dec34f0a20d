"""Database port: the serving database (and control tables) and reading warehouse marts.

SQL given to a Database uses `?` placeholders; adapters translate to their driver's style.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pyarrow as pa

STREAM_BATCH_ROWS = 100_000
Rows = pa.Table | pa.RecordBatchReader


class Database(Protocol):
    name: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def fetch_arrow(self, sql: str) -> pa.Table: ...

    def stream_arrow(self, sql: str, batch_rows: int = STREAM_BATCH_ROWS) -> pa.RecordBatchReader:
        """The result in batches of at most `batch_rows` rows, read as they are consumed: a mart of any size
        passes through this process a batch at a time, never whole."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Statements inside commit together or not at all."""
        ...

    def replace_tables(self, schema: str, tables: Mapping[str, Rows]) -> None:
        """Make each schema.table hold exactly its rows (created from the Arrow schema), all in one
        transaction: readers see the old set or the new one. A RecordBatchReader is consumed as it is read."""
        ...

    def close(self) -> None: ...


def arrow_to_sql_type(data_type: pa.DataType) -> str:
    if pa.types.is_decimal(data_type):
        return f"decimal({data_type.precision}, {data_type.scale})"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "varchar"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_integer(data_type):
        return "bigint"
    raise TypeError(f"no SQL type for Arrow type {data_type} (money must be decimal, never float)")


def create_table_sql(schema: str, table: str, arrow_schema: pa.Schema) -> str:
    columns = ",\n    ".join(f"{field.name} {arrow_to_sql_type(field.type)}" for field in arrow_schema)
    return f"create table {schema}.{table} (\n    {columns}\n)"


def iter_batches(rows: Rows, size: int = 50_000) -> Iterator[pa.Table]:
    """`rows` in tables of at most `size` rows (a reader's batches as they arrive)."""
    if isinstance(rows, pa.RecordBatchReader):
        for batch in rows:
            for start in range(0, batch.num_rows, size):
                yield pa.Table.from_batches([batch.slice(start, size)], schema=rows.schema)
        return
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)

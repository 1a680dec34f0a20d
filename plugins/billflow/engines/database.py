"""Database port: the serving database (and control tables) and reading warehouse marts.

SQL given to a Database uses `?` placeholders; adapters translate to their driver's style.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pyarrow as pa


class Database(Protocol):
    name: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def fetch_arrow(self, sql: str) -> pa.Table: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Statements inside commit together or not at all."""
        ...

    def replace_tables(self, schema: str, tables: Mapping[str, pa.Table]) -> None:
        """Make each schema.table hold exactly its rows (created from the Arrow schema), all in one
        transaction: readers see the old set or the new one."""
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


def iter_batches(rows: pa.Table, size: int = 50_000) -> Iterator[pa.Table]:
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)

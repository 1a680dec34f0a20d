"""DuckDB adapter of the database port (warehouse and serving in the embedded default)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from billflow.engines.database import create_table_sql


class DuckDBDatabase:
    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.name = f"duckdb:{path}"
        if not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path), read_only=read_only)
        self.con.execute("set timezone = 'UTC'")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def fetch_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def replace_tables(self, schema: str, tables: Mapping[str, pa.Table]) -> None:
        with self.transaction():
            self.con.execute(f"create schema if not exists {schema}")
            for table, rows in tables.items():
                self.con.execute(f"drop table if exists {schema}.{table}")
                self.con.execute(create_table_sql(schema, table, rows.schema))
                self.con.register("_incoming_rows", rows)
                try:
                    self.con.execute(f"insert into {schema}.{table} select * from _incoming_rows")
                finally:
                    self.con.unregister("_incoming_rows")

    def close(self) -> None:
        self.con.close()

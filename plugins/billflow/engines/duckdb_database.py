"""DuckDB adapter of the database port (warehouse and serving in the embedded default)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from billflow.engines.database import STREAM_BATCH_ROWS, Rows, create_table_sql

log = logging.getLogger(__name__)

# DuckDB lets one process at a time open a file for writing; others wait this long for it, then fail
LOCK_WAIT_SECONDS = 120.0


def connect_waiting(path: str | Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS):
    """duckdb.connect, waiting while another process holds the file (a short step of a concurrent run)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            log.info("waiting for %s: another process has it open", path)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class DuckDBDatabase:
    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.name = f"duckdb:{path}"
        if not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = connect_waiting(path, read_only=read_only)
        self.con.execute("set timezone = 'UTC'")
        self._in_transaction = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def fetch_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def stream_arrow(self, sql: str, batch_rows: int = STREAM_BATCH_ROWS) -> pa.RecordBatchReader:
        # a cursor of its own: the reader stays valid while this connection runs other statements
        return self.con.cursor().sql(sql).to_arrow_reader(batch_rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together; a transaction inside another one joins it."""
        if self._in_transaction:
            yield
            return
        self.con.execute("begin transaction")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        else:
            self.con.execute("commit")
        finally:
            self._in_transaction = False

    def replace_tables(self, schema: str, tables: Mapping[str, Rows]) -> None:
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

"""DuckDB adapter of the query-engine port (plays Athena in the embedded and compose deployments): the staging
SQL runs as written (STAGING_DIALECT is DuckDB's)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from billflow.engines.parquet_files import read_footer, s3_filesystem
from billflow.engines.query import RAW_DELIVERY, RAW_FILE_COLUMN, Output, ParquetFooter
from billflow.engines.sql import quote_literal


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, threads: int | None = None, aws_conn_id: str = "aws_default") -> None:
        self.con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
        self.con.execute("set timezone = 'UTC'")
        self.con.execute("set preserve_insertion_order = false")
        self._aws_conn_id = aws_conn_id
        self._s3: Any = None

    def _ensure_s3(self, uris: Sequence[str]) -> None:
        if self._s3 is not None or not any(str(u).startswith("s3://") for u in uris):
            return
        # DuckDB 2.0 has no httpfs offline: read s3:// through an fsspec file system instead.
        self._s3 = s3_filesystem(self._aws_conn_id)
        self.con.register_filesystem(self._s3)

    def parquet_footer(self, uri: str) -> ParquetFooter:
        self._ensure_s3([uri])
        return read_footer(uri, self._s3)

    def query(self, sql: str, files: Sequence[str]) -> pa.Table:
        self._bind_raw_delivery(files)
        return self.con.sql(sql).to_arrow_table()

    def unload(self, sql: str, files: Sequence[str], destination_uri: str) -> int:
        self._bind_raw_delivery(files)
        return self._copy(sql, destination_uri)

    def unload_each(self, shared: str, name: str, outputs: Sequence[Output], files: Sequence[str]) -> list[int]:
        """`shared` is computed once into a temporary table the outputs read (the raw files are read once)."""
        self._bind_raw_delivery(files)
        self.con.execute(f"create or replace temp table {name} as {shared}")
        try:
            return [self._copy(render(name), destination) for render, destination in outputs]
        finally:
            self.con.execute(f"drop table if exists {name}")

    def _copy(self, sql: str, destination_uri: str) -> int:
        self._ensure_s3([destination_uri])
        if not destination_uri.startswith("s3://"):
            Path(destination_uri).parent.mkdir(parents=True, exist_ok=True)
        result = self.con.execute(
            f"copy ({sql}) to {quote_literal(destination_uri)} (format parquet, compression zstd)"
        ).fetchall()
        return int(result[0][0]) if result else 0

    def _bind_raw_delivery(self, files: Sequence[str]) -> None:
        """RAW_DELIVERY as a view over the files (a view is inlined into each query that reads it)."""
        if not files:
            raise ValueError("no data files to read")
        self._ensure_s3(files)
        listed = ", ".join(quote_literal(str(uri)) for uri in files)
        self.con.execute(
            f"create or replace temp view {RAW_DELIVERY} as select * from read_parquet([{listed}], "
            f"union_by_name = true, filename = {quote_literal(RAW_FILE_COLUMN)})"
        )

    def close(self) -> None:
        self.con.close()

"""DuckDB adapter of the query-engine port (plays Athena in the embedded default)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from billflow.engines.query import ParquetFooter
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

    def raw_relation(self, uris: Sequence[str], *, file_column: str | None = None) -> str:
        if not uris:
            raise ValueError("no data files to read")
        self._ensure_s3(uris)
        files = ", ".join(quote_literal(str(u)) for u in uris)
        with_file = f", filename = {quote_literal(file_column)}" if file_column else ""
        return f"read_parquet([{files}], union_by_name = true{with_file})"

    def parquet_footer(self, uri: str) -> ParquetFooter:
        if uri.startswith("s3://"):
            self._ensure_s3([uri])
            with self._s3.open(uri, "rb") as handle:  # ranged reads: only the footer is fetched
                metadata = pq.ParquetFile(handle).metadata
        else:
            metadata = pq.ParquetFile(uri).metadata
        return ParquetFooter(uri, metadata.num_rows, tuple(metadata.schema.to_arrow_schema().names))

    def relation_columns(self, relation: str) -> dict[str, str]:
        rows = self.con.execute(f"describe select * from {relation}").fetchall()
        return {row[0]: row[1] for row in rows}

    def query_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def hash_sql(self, columns: Sequence[str]) -> str:
        return f"hash({', '.join(columns)})"

    def copy_to_parquet(self, sql: str, destination_uri: str) -> int:
        self._ensure_s3([destination_uri])
        if not destination_uri.startswith("s3://"):
            Path(destination_uri).parent.mkdir(parents=True, exist_ok=True)
        result = self.con.execute(
            f"copy ({sql}) to {quote_literal(destination_uri)} (format parquet, compression zstd)"
        ).fetchall()
        return int(result[0][0]) if result else 0

    def close(self) -> None:
        self.con.close()


def s3_filesystem(aws_conn_id: str) -> Any:
    """An s3fs file system with the credentials and endpoint of an Airflow AWS connection."""
    import s3fs
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    credentials = hook.get_credentials()
    endpoint = hook.conn_config.endpoint_url
    return s3fs.S3FileSystem(
        key=credentials.access_key,
        secret=credentials.secret_key,
        token=credentials.token,
        client_kwargs={"endpoint_url": endpoint} if endpoint else {},
    )

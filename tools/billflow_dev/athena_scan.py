"""`python -m billflow_dev athena-scan`: what staging a generated month on Athena would scan and cost.

Stages each delivery of a generated month with the DuckDB adapter while recording every statement the
staging module hands its query engine: the same statements the Athena adapter renders for Athena
(billflow.engines.athena_sql changes the source table and the hash function, never the columns). Athena
reads from Parquet only the column chunks of the columns a query names (Trino prunes the `select *` of a
delivery's relation), of the delivery's own files (the `"$path"` filter), and bills each query for the
bytes read, rounded up to a whole megabyte, at least 10 MB. So a statement's scan is the compressed size
of its columns' chunks in the delivery's files, read from the Parquet footers. An upper bound: Athena may
skip row groups by their statistics, which this does not count.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024
MINIMUM_BILLED = 10 * MB
USD_PER_TB = 5.0  # Athena's SQL query price per TB scanned (us-east-1 and most regions)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("athena-scan", help="bytes Athena would scan staging a generated month")
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw CUR lines to generate (default 10M)")
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="work folder (default .bench, as bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Statement:
    kind: str  # query or unload
    sql: str
    files: tuple[str, ...]


class RecordingEngine:
    """A query engine that records each statement and runs it on the engine it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.statements = inner, []
        self.dialect = inner.dialect

    def parquet_footer(self, uri: str) -> Any:
        return self.inner.parquet_footer(uri)

    def query(self, sql: str, files: Sequence[str]) -> Any:
        self.statements.append(Statement("query", sql, tuple(files)))
        return self.inner.query(sql, files)

    def unload(self, sql: str, files: Sequence[str], destination_uri: str) -> int:
        self.statements.append(Statement("unload", sql, tuple(files)))
        return self.inner.unload(sql, files, destination_uri)

    def unload_each(self, shared: str, name: str, outputs: Sequence[Any], files: Sequence[str]) -> list[int]:
        """As Athena runs it: each output an UNLOAD that computes `shared` itself (recorded one by one)."""
        from billflow.engines.query import unload_each_inline

        return unload_each_inline(self, shared, name, outputs, files)

    def close(self) -> None:
        self.inner.close()


def named_columns(sql: str) -> set[str]:
    """Every column name the statement mentions (lower case)."""
    import sqlglot
    from sqlglot import exp

    from billflow.engines.query import STAGING_DIALECT

    tree = sqlglot.parse_one(sql, read=STAGING_DIALECT, error_level=sqlglot.ErrorLevel.RAISE)
    return {column.name.lower() for column in tree.find_all(exp.Column)}


def scanned_bytes(path: str, columns: set[str]) -> int:
    """The compressed bytes of the named columns' chunks in one Parquet file."""
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if chunk.path_in_schema.split(".")[0].lower() in columns:
                total += chunk.total_compressed_size
    return total


def billed_bytes(scanned: int) -> int:
    return max(MINIMUM_BILLED, math.ceil(scanned / MB) * MB)


def run(args: argparse.Namespace) -> int:
    from billflow.config import DBT_PROJECT_DIR, allocation_tag_keys
    from billflow.engines.duckdb_engine import DuckDBEngine
    from billflow.formats.discovery import discover_deliveries
    from billflow.staging.stage import stage_delivery
    from billflow.storage.local import LocalStore
    from billflow_dev.bench import generated_month

    tag_keys = allocation_tag_keys(DBT_PROJECT_DIR / "rules" / "allocation_tag_keys.csv")  # as a load stages
    landing_dir = generated_month(args.dir.resolve(), args.rows, args.seed)
    landing = LocalStore(landing_dir)
    deliveries = discover_deliveries(landing).deliveries
    data_bytes = sum(info.size for info in landing.list_objects() if info.key.endswith(".parquet"))
    print(f"{args.rows:,} generated lines in {len(deliveries)} deliveries, {data_bytes / MB:,.1f} MiB of Parquet")
    print(f"{'delivery':<28} {'statement':<10} {'columns':>7} {'scanned MiB':>12} {'billed MiB':>11}")
    total_scanned = total_billed = 0
    with tempfile.TemporaryDirectory(prefix="billflow-athena-scan-") as scratch:
        for delivery in deliveries:
            engine = RecordingEngine(DuckDBEngine())
            try:
                stage_delivery(delivery, landing, LocalStore(Path(scratch)), engine, tag_keys=tag_keys)
            finally:
                engine.close()
            label = f"{delivery.payer_account_id} {delivery.billing_period:%Y-%m}"
            for statement in engine.statements:
                columns = named_columns(statement.sql)  # the files are local paths (LocalStore.uri)
                scanned = sum(scanned_bytes(path, columns) for path in statement.files)
                total_scanned, total_billed = total_scanned + scanned, total_billed + billed_bytes(scanned)
                print(
                    f"{label:<28} {statement.kind:<10} {len(columns):>7} {scanned / MB:>12,.1f} "
                    f"{billed_bytes(scanned) / MB:>11,.1f}"
                )
    cost = total_billed / 1024**4 * USD_PER_TB
    print(f"month: {total_scanned / MB:,.1f} MiB scanned, {total_billed / MB:,.1f} MiB billed, ${cost:.4f} per load")
    return 0

"""Query-engine port: runs the staging step's SQL over one delivery's raw CUR files (DuckDB embedded and in
compose; Athena on AWS).

The staging and raw-check SQL is written once, in STAGING_DIALECT, and reads the delivery's raw lines from
the relation RAW_DELIVERY: every column of the delivery's files (unioned by name) and RAW_FILE_COLUMN, the
URI of the file each line came from. Each call names the files RAW_DELIVERY stands for; an adapter binds
that name to them its own way (a DuckDB view over read_parquet, a Glue table for Athena) and renders the
SQL in its engine's dialect. Nothing engine-specific reaches the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

STAGING_DIALECT = "duckdb"  # sqlglot's name of the dialect the staging SQL is written in
RAW_DELIVERY = "raw_delivery"
RAW_FILE_COLUMN = "billflow_source_file"


@dataclass(frozen=True)
class ParquetFooter:
    """What a Parquet file's footer says about it, read without the query engine."""

    uri: str
    num_rows: int
    columns: tuple[str, ...]  # top-level column names
    schema: pa.Schema | None = field(default=None, compare=False)  # their types, as pyarrow reads them


class QueryEngine(Protocol):
    dialect: str  # sqlglot's name of the dialect the engine runs

    def parquet_footer(self, uri: str) -> ParquetFooter:
        """Row count and columns of one Parquet file from its footer (pyarrow, not the query engine);
        raises when the file is not readable Parquet."""
        ...

    def query(self, sql: str, files: Sequence[str]) -> pa.Table:
        """The result of `sql` (STAGING_DIALECT, reading RAW_DELIVERY as the lines of `files`; a file
        listed twice is read twice)."""
        ...

    def unload(self, sql: str, files: Sequence[str], destination_uri: str) -> int:
        """Write the result of `sql` (as for `query`) as one Parquet file at destination_uri; returns the
        number of rows written."""
        ...

    def unload_each(self, shared: str, name: str, outputs: Sequence[Output], files: Sequence[str]) -> list[int]:
        """Write several results that all read one intermediate result: `shared` (as for `query`) is the
        relation `name`, and each output is (render, destination_uri), `render(relation)` the statement that
        reads it. An engine that can keep `shared` computes it once; returns the rows written per output."""
        ...

    def close(self) -> None: ...


Output = tuple[Callable[[str], str], str]  # (render a statement over a relation, destination URI)


def unload_each_inline(
    engine: QueryEngine, shared: str, name: str, outputs: Sequence[Output], files: Sequence[str]
) -> list[int]:
    """unload_each for an engine that keeps nothing between statements: each output inlines `shared`."""
    relation = inline_relation(shared, name)
    return [engine.unload(render(relation), files, destination) for render, destination in outputs]


def inline_relation(shared: str, name: str) -> str:
    """`shared` as the relation `name` inside a single statement."""
    return f"({shared}) as {name}"

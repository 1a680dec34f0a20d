"""Query-engine port: runs staging SQL over raw CUR files (DuckDB embedded, Athena on AWS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class ParquetFooter:
    """What a Parquet file's footer says about it, read without the query engine."""

    uri: str
    num_rows: int
    columns: tuple[str, ...]  # top-level column names


class QueryEngine(Protocol):
    dialect: str  # sqlglot dialect the staging SQL is written in or transpiled to

    def raw_relation(self, uris: Sequence[str], *, file_column: str | None = None) -> str:
        """A FROM-clause relation over the given Parquet files (columns unioned by name). With
        `file_column`, the relation also has a varchar column of that name: the URI of each line's file."""
        ...

    def relation_columns(self, relation: str) -> dict[str, str]:
        """Column name -> type of a relation, read from file metadata only."""
        ...

    def parquet_footer(self, uri: str) -> ParquetFooter:
        """Row count and columns of one Parquet file from its footer (pyarrow, not the query engine);
        raises when the file is not readable Parquet."""
        ...

    def query_arrow(self, sql: str) -> pa.Table: ...

    def hash_sql(self, columns: Sequence[str]) -> str:
        """A SQL expression of this engine hashing the columns' values together (SQL has no standard hash):
        a cheap grouping key, whose collisions the caller must tell apart."""
        ...

    def copy_to_parquet(self, sql: str, destination_uri: str) -> int:
        """Write the query's result as one Parquet file; return the number of rows written."""
        ...

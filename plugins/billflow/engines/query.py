"""Query-engine port: runs staging SQL over raw CUR files (DuckDB embedded, Athena on AWS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa


class QueryEngine(Protocol):
    dialect: str  # sqlglot dialect the staging SQL is written in or transpiled to

    def raw_relation(self, uris: Sequence[str]) -> str:
        """A FROM-clause relation over the given Parquet files (columns unioned by name)."""
        ...

    def relation_columns(self, relation: str) -> dict[str, str]:
        """Column name -> type of a relation, read from file metadata only."""
        ...

    def query_arrow(self, sql: str) -> pa.Table: ...

    def copy_to_parquet(self, sql: str, destination_uri: str) -> int:
        """Write the query's result as one Parquet file; return the number of rows written."""
        ...

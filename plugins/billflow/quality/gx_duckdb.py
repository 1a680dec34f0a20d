"""What Great Expectations needs to validate through DuckDB (imported only by the gate's validating code).

- ``GateDuckDBDialect``: duckdb-engine's SQLAlchemy dialect without transactions. GX reads a query's
  rows after leaving its ``with engine.connect()`` block; SQLAlchemy rolls the connection's transaction
  back on close, and a DuckDB connection drops its pending result at its next statement, that ROLLBACK:
  every metric would come back empty (GX issues #10738, #11579). The gate only reads, so each statement
  runs in DuckDB's own autocommit and nothing is begun, committed or rolled back.
- ``ExpectColumnValuesToFullyMatchRegex``: GX builds ``expect_column_values_to_match_regex`` only for the
  SQL dialects it knows, not DuckDB's; this one asks DuckDB's ``regexp_full_match``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from duckdb_engine import Dialect
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial
from sqlalchemy.dialects import registry

CONNECTION_STRING = "duckdb+billflow_gate:///:memory:"


class GateDuckDBDialect(Dialect):
    """DuckDB for read-only validation: statements autocommit (see the module docstring)."""

    supports_statement_cache = False  # as duckdb-engine's; SQLAlchemy asks every dialect class to say

    def do_begin(self, dbapi_connection: Any) -> None:
        pass

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass


registry.register("duckdb.billflow_gate", __name__, GateDuckDBDialect.__name__)


class ColumnValuesFullyMatchRegex(ColumnMapMetricProvider):
    condition_metric_name = "column_values.billflow_fully_match_regex"
    condition_value_keys = ("regex",)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column: Any, regex: str, **kwargs: Any) -> Any:
        return sa.func.regexp_full_match(column, sa.literal(regex))


class ExpectColumnValuesToFullyMatchRegex(ColumnMapExpectation):
    """Every non-null value matches `regex` as a whole (DuckDB's regexp_full_match)."""

    regex: str
    map_metric: ClassVar[str] = "column_values.billflow_fully_match_regex"
    success_keys: ClassVar[tuple[str, ...]] = ("regex", "mostly")

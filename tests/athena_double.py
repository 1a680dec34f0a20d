"""A TEST DOUBLE of Athena's SQL engine, not Athena: it runs the Trino statements billflow sends Athena on
DuckDB, transpiled back by sqlglot, over Glue tables registered here as DuckDB views of their Parquet files.

No Trino or Athena runs on this machine (moto accepts Athena calls but runs no SQL). What the double can
show is that billflow's Athena statements are valid Trino (sqlglot parses them with errors raised) and mean
what the DuckDB adapter's statements mean: run on the same files, they give the same rows. It cannot show
Athena's own behaviour (its types, its limits, its error messages).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa
import sqlglot

from billflow.engines.athena_sql import ATHENA_DIALECT
from billflow.engines.sql import quote_literal


class TrinoOnDuckDB:
    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("set timezone = 'UTC'")
        # Trino's xxhash64 has no DuckDB twin: any 64-bit hash of the same bytes serves the duplicate check
        self.con.execute("create macro xxhash64(value) as hash(value)")

    def register_table(self, database: str, table: str, files: Sequence[str]) -> None:
        """A Glue table over the files, with Athena's `$path` column (each line's file)."""
        listed = ", ".join(quote_literal(str(uri)) for uri in files)
        self.con.execute(f'create schema if not exists "{database}"')
        self.con.execute(
            f'create or replace view "{database}"."{table}" as select * from read_parquet([{listed}], '
            "union_by_name = true, filename = '$path')"
        )

    def to_duckdb(self, trino_sql: str) -> str:
        sqlglot.parse_one(trino_sql, read=ATHENA_DIALECT, error_level=sqlglot.ErrorLevel.RAISE)
        (duckdb_sql,) = sqlglot.transpile(
            trino_sql, read=ATHENA_DIALECT, write="duckdb", error_level=sqlglot.ErrorLevel.RAISE
        )
        return duckdb_sql

    def query(self, trino_sql: str) -> pa.Table:
        return self.con.sql(self.to_duckdb(trino_sql)).to_arrow_table()

    def close(self) -> None:
        self.con.close()

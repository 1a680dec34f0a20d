"""A TEST DOUBLE of Athena's SQL engine, not Athena: it runs the Trino statements billflow sends Athena on
DuckDB, transpiled back by sqlglot, over Glue tables registered here as DuckDB views of their Parquet files.

No Trino or Athena runs on this machine (moto accepts Athena calls but runs no SQL). What the double can
show is that billflow's Athena statements are valid Trino (sqlglot parses them with errors raised) and mean
what the DuckDB adapter's statements mean: run on the same files, they give the same rows. It cannot show
Athena's own behaviour (its types, its limits, its error messages).
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
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


class AthenaOnMoto:
    """A TEST DOUBLE of Athena's query execution behind a moto server of this process: when moto accepts a
    query (start_query_execution), the statement runs on TrinoOnDuckDB over the Glue tables it names (their
    files read from moto's S3), and its rows are queued through moto's Athena results API, where
    get_query_results finds them; an UNLOAD writes its Parquet file into moto's S3 instead. The adapter's
    calls (Glue, start, poll, results, S3) are the provider's own, against moto. Everything moto does not
    (types, limits, errors of a real Athena) is not shown here."""

    UNLOAD = re.compile(
        r"^\s*unload\s*\((?P<select>.*)\)\s*to\s*'(?P<target>s3://[^']+)'\s*with\s*\(.*\)\s*$", re.I | re.S
    )
    TABLE = re.compile(r'"(?P<database>[a-z0-9_]+)"\."(?P<table>[a-z0-9_]+)"')

    def __init__(self, endpoint: str, region: str) -> None:
        import boto3
        import s3fs

        credentials = {"aws_access_key_id": "billflow-test-key", "aws_secret_access_key": "billflow-test-secret"}
        self.endpoint, self.region = endpoint, region
        self.glue = boto3.client("glue", endpoint_url=endpoint, region_name=region, **credentials)
        self.s3 = s3fs.S3FileSystem(key="billflow-test-key", secret="billflow-test-secret", endpoint_url=endpoint)
        self.statements: list[str] = []
        self.failing: Any = None  # a test's predicate: statements it accepts end FAILED, as a real error would

    def install(self, monkeypatch: Any) -> None:
        from moto.athena.models import AthenaBackend

        start = AthenaBackend.start_query_execution
        double = self

        def start_query_execution(backend: Any, query: str, *args: Any, **kwargs: Any) -> str:
            failed = double.failing is not None and double.failing(query)
            if not failed:
                double.execute(query)
            query_id = start(backend, query, *args, **kwargs)
            if failed:  # moto keeps no reason: get_query_execution shows the state alone
                backend.executions[query_id].status = "FAILED"
            return query_id

        monkeypatch.setattr(AthenaBackend, "start_query_execution", start_query_execution)

    def execute(self, trino_sql: str) -> None:
        self.statements.append(trino_sql)
        engine = TrinoOnDuckDB()
        engine.con.register_filesystem(self.s3)
        try:
            for database, table in set(self.TABLE.findall(trino_sql)):
                described = self.glue.get_table(DatabaseName=database, Name=table)["Table"]
                location = described["StorageDescriptor"]["Location"].removeprefix("s3://")
                files = [f"s3://{path}" for path in self.s3.find(location) if path.endswith(".parquet")]
                engine.register_table(database, table, files)
            unload = self.UNLOAD.match(trino_sql)
            if unload:
                result = engine.query(unload["select"])
                with self.s3.open(unload["target"].removeprefix("s3://") + "part-00000.parquet", "wb") as handle:
                    pq.write_table(result, handle)
                self._queue_result(pa.table({}))
            else:
                self._queue_result(engine.query(trino_sql))
        finally:
            engine.close()

    def _queue_result(self, table: pa.Table) -> None:
        """Athena's shape of a result: a header row, then every value as text."""
        header = {"Data": [{"VarCharValue": name} for name in table.column_names]}
        rows = [header] + [
            {"Data": [{} if value is None else {"VarCharValue": _text(value)} for value in row.values()]}
            for row in table.to_pylist()
        ]
        column_info = [_column_info(field) for field in table.schema]
        body = {"region": self.region, "results": [{"rows": rows, "column_info": column_info}]}
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/static/athena/query-results",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).close()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def _column_info(field: pa.Field) -> dict[str, Any]:
    kind = field.type
    if pa.types.is_decimal(kind):
        return {"Name": field.name, "Type": "decimal", "Precision": kind.precision, "Scale": kind.scale}
    if pa.types.is_integer(kind):
        return {"Name": field.name, "Type": "bigint"}
    if pa.types.is_floating(kind):
        return {"Name": field.name, "Type": "double"}
    if pa.types.is_boolean(kind):
        return {"Name": field.name, "Type": "boolean"}
    if pa.types.is_date(kind):
        return {"Name": field.name, "Type": "date"}
    if pa.types.is_timestamp(kind):
        return {"Name": field.name, "Type": "timestamp"}
    return {"Name": field.name, "Type": "varchar"}

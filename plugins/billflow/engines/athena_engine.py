"""Athena adapter of the query-engine port, through the Amazon provider (AthenaHook, GlueCatalogHook).

Each delivery's files become a Glue Data Catalog table over their folder, built from the files' own
Parquet footers (the columns a manifest lists are the ones its files carry; the footers also give their
types) and named after its location and columns, so creating it again is a no-op. Each statement is the
staging SQL rendered for Athena (billflow.engines.athena_sql), run in the configured database and
workgroup with results in the configured output location; the query id is logged, and a failed or
cancelled query raises with Athena's own reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from billflow.engines.athena_sql import ATHENA_DIALECT, render_for_athena
from billflow.engines.parquet_files import read_footer, s3_filesystem
from billflow.engines.query import Output, ParquetFooter, unload_each_inline
from billflow.engines.sql import quote_literal

log = logging.getLogger(__name__)


class AthenaQueryFailed(RuntimeError):
    """An Athena query ended FAILED or CANCELLED (the message carries Athena's reason and the query id)."""


class AthenaEngine:
    dialect = ATHENA_DIALECT

    def __init__(
        self, *, aws_conn_id: str, database: str, workgroup: str, output_uri: str, poll_seconds: float = 1.0
    ) -> None:
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        self.athena = AthenaHook(aws_conn_id=aws_conn_id)
        self.glue = GlueCatalogHook(aws_conn_id=aws_conn_id)
        self.s3 = s3_filesystem(aws_conn_id)
        self.database, self.workgroup, self.output_uri = database, workgroup, output_uri
        self.poll_seconds = poll_seconds
        self._tables: dict[tuple[str, ...], str] = {}
        self._footers: dict[str, ParquetFooter] = {}

    def parquet_footer(self, uri: str) -> ParquetFooter:
        if uri not in self._footers:  # kept: the delivery's Glue table takes its columns from them
            self._footers[uri] = read_footer(uri, self.s3)
        return self._footers[uri]

    def query(self, sql: str, files: Sequence[str]) -> pa.Table:
        query_id = self._run(render_for_athena(sql, self._table(files), files))
        return self._results(query_id)

    def unload(self, sql: str, files: Sequence[str], destination_uri: str) -> int:
        """UNLOAD into an empty scratch folder beside the destination (Athena names its own files there),
        then those files, one at a time, into the one Parquet file at destination_uri."""
        scratch = f"{destination_uri.rsplit('/', 1)[0]}/unload-{uuid.uuid4().hex}/"
        athena_sql = render_for_athena(sql, self._table(files), files)
        self._run(f"unload ({athena_sql}) to {quote_literal(scratch)} with (format = 'PARQUET', compression = 'ZSTD')")
        try:
            return self._combine(scratch, destination_uri)
        finally:
            self.s3.rm(scratch.removeprefix("s3://"), recursive=True)

    def unload_each(self, shared: str, name: str, outputs: Sequence[Output], files: Sequence[str]) -> list[int]:
        """Athena keeps nothing between statements here: each output's UNLOAD computes `shared` itself."""
        return unload_each_inline(self, shared, name, outputs, files)

    def close(self) -> None:
        return None

    # ---------------------------------------------------------------- Glue

    def _table(self, files: Sequence[str]) -> str:
        key = tuple(dict.fromkeys(files))
        if key not in self._tables:
            self._tables[key] = self._create_table(key)
        return self._tables[key]

    def _create_table(self, files: tuple[str, ...]) -> str:
        location = _common_folder(files)
        schema = pa.unify_schemas([self.parquet_footer(uri).schema for uri in files])
        columns = [{"Name": field.name, "Type": hive_type(field.type)} for field in schema]
        digest = hashlib.sha256(repr((location, columns)).encode()).hexdigest()[:20]
        name = f"delivery_{digest}"
        table_input = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
            "StorageDescriptor": {
                "Columns": columns,
                "Location": location,
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
        }
        client = self.glue.get_conn()
        try:
            client.create_table(DatabaseName=self.database, TableInput=table_input)
            log.info("created Glue table %s.%s over %s", self.database, name, location)
        except client.exceptions.AlreadyExistsException:
            pass  # the same name is the same location and columns
        return f'"{self.database}"."{name}"'

    # ---------------------------------------------------------------- queries

    def _run(self, athena_sql: str) -> str:
        query_id = self.athena.run_query(
            athena_sql,
            query_context={"Database": self.database},
            result_configuration={"OutputLocation": self.output_uri},
            workgroup=self.workgroup,
        )
        log.info("Athena query %s started in workgroup %s", query_id, self.workgroup)
        state = self.athena.poll_query_status(query_id, sleep_time=self.poll_seconds)
        if state != "SUCCEEDED":
            reason = self.athena.get_state_change_reason(query_id) or "no reason given"
            raise AthenaQueryFailed(f"Athena query {query_id} ended {state}: {reason}")
        log.info("Athena query %s succeeded", query_id)
        return query_id

    def _results(self, query_id: str) -> pa.Table:
        """The query's rows (the first row of the first page is the header), typed by Athena's column info."""
        columns: list[dict[str, Any]] = []
        values: list[list[Any]] = []
        for page in self.athena.get_query_results_paginator(query_id):
            result_set = page["ResultSet"]
            rows = result_set.get("Rows", [])
            if not columns:
                columns = result_set["ResultSetMetadata"]["ColumnInfo"]
                values = [[] for _ in columns]
                rows = rows[1:]
            for row in rows:
                for index, datum in enumerate(row["Data"]):
                    values[index].append(datum.get("VarCharValue"))
        return pa.table(
            {
                column["Name"]: _typed(column, column_values)
                for column, column_values in zip(columns, values, strict=True)
            }
        )

    def _combine(self, scratch: str, destination_uri: str) -> int:
        parts = sorted(path for path in self.s3.find(scratch.removeprefix("s3://")) if not path.endswith("/"))
        if not parts:
            raise AthenaQueryFailed(f"UNLOAD wrote no file under {scratch}")
        rows = 0
        with contextlib.ExitStack() as stack:
            writer = None
            for path in parts:
                with self.s3.open(path, "rb") as handle:
                    table = pq.read_table(handle)
                if writer is None:  # the destination is written (uploaded) when its handle closes, after the writer
                    sink = stack.enter_context(self.s3.open(destination_uri.removeprefix("s3://"), "wb"))
                    writer = stack.enter_context(pq.ParquetWriter(sink, table.schema, compression="zstd"))
                writer.write_table(table)
                rows += table.num_rows
        return rows


def hive_type(arrow_type: pa.DataType) -> str:
    """The Glue (Hive) type of a Parquet column as pyarrow reads it."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_map(arrow_type):
        return f"map<{hive_type(arrow_type.key_type)},{hive_type(arrow_type.item_type)}>"
    if pa.types.is_list(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        return "struct<" + ",".join(f"{field.name}:{hive_type(field.type)}" for field in arrow_type) + ">"
    simple = {
        pa.bool_(): "boolean",
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.binary(): "binary",
        pa.null(): "string",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise ValueError(f"no Glue type for the Parquet column type {arrow_type}")


def _typed(column: dict[str, Any], values: list[str | None]) -> pa.Array:
    """Athena's text values as the column's type (decimals exact, from their text)."""
    kind = column["Type"].lower()
    if kind == "decimal":
        decimal_type = pa.decimal128(int(column["Precision"]), int(column["Scale"]))
        return pa.array([None if v is None else Decimal(v) for v in values], decimal_type)
    if kind in ("bigint", "integer", "int", "smallint", "tinyint"):
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    if kind in ("double", "float", "real"):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kind == "boolean":
        return pa.array([None if v is None else v == "true" for v in values], pa.bool_())
    if kind == "date":
        return pa.array(values, pa.string()).cast(pa.date32())
    if kind.startswith("timestamp"):
        return pa.array(values, pa.string()).cast(pa.timestamp("us"))
    return pa.array(values, pa.string())


def _common_folder(files: Sequence[str]) -> str:
    folders = [uri.rsplit("/", 1)[0] for uri in files]
    common = folders[0]
    for folder in folders[1:]:
        while not (folder == common or folder.startswith(common + "/")):
            common = common.rsplit("/", 1)[0]
    if common.count("/") < 3:  # s3://bucket: a table over a whole bucket would read everything in it
        raise ValueError(f"the delivery's files share no folder below their bucket: {common}")
    return common + "/"

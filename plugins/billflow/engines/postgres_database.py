"""PostgreSQL adapter of the database port (the compose stack's serving db; Aurora PostgreSQL on AWS)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from billflow.engines.database import STREAM_BATCH_ROWS, Rows, create_table_sql, iter_batches


def _pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


# Arrow type of a result column, by PostgreSQL type OID (Redshift uses the same OIDs)
_NUMERIC_OID = 1700
_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    19: pa.string(),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def _arrow_type(column: Any) -> pa.DataType | None:
    """The declared type of a result column; None where only the values can tell (unconstrained numeric)."""
    if column.type_code == _NUMERIC_OID:
        precision, scale = column.precision, column.scale
        if precision is None or not 0 < precision <= 76:  # 65535: numeric without (precision, scale)
            return None
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    return _ARROW_TYPES.get(column.type_code)


def _arrow_column(column: Any, values: list[Any]) -> pa.Array:
    declared = _arrow_type(column)
    if declared is not None:
        return pa.array(values, type=declared)
    inferred = pa.array(values)
    if column.type_code == _NUMERIC_OID and not pa.types.is_decimal(inferred.type):
        return pa.array(values, type=pa.decimal128(38, 10))  # no values to infer from: money's type
    return inferred


class PostgresDatabase:
    def __init__(self, connection: Any, name: str = "postgres") -> None:
        """`connection` is a DB-API connection from psycopg2 or psycopg 3 (for example PostgresHook.get_conn())."""
        self.name = name
        self.con = connection
        self.con.autocommit = True
        self._in_transaction = False
        self._streams = 0  # open stream_arrow cursors

    @classmethod
    def from_airflow(cls, conn_id: str) -> PostgresDatabase:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return cls(PostgresHook(postgres_conn_id=conn_id).get_conn(), name=f"postgres:{conn_id}")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.con.cursor() as cur:
            cur.execute(_pyformat(sql), tuple(params))

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(_pyformat(sql), tuple(params))
            return cur.fetchall()

    def fetch_arrow(self, sql: str) -> pa.Table:
        """Column types come from the result's declared types, not from the values: numeric(38, 10) stays
        decimal128(38, 10) (and an empty result keeps its types) for the tables created from it."""
        with self.con.cursor() as cur:
            cur.execute(sql)
            columns = list(cur.description)
            rows = cur.fetchall()
        return _arrow_table(columns, rows)

    def stream_arrow(self, sql: str, batch_rows: int = STREAM_BATCH_ROWS) -> pa.RecordBatchReader:
        """A server-side cursor read `batch_rows` at a time; the column types are the declared ones of the
        first batch (numeric(38, 10) -> decimal128(38, 10)), which every later batch keeps. A named cursor
        lives in a transaction: outside one, a read-only transaction is opened for the open streams and
        ended when the last of them is read or closed."""
        cursor = self._open_stream()
        try:
            cursor.execute(sql)
            first = cursor.fetchmany(batch_rows)
            columns = list(cursor.description)
            head = _arrow_table(columns, first)
        except BaseException:
            self._end_stream(cursor)
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from head.to_batches()
                while rows := cursor.fetchmany(batch_rows):
                    yield from _arrow_table(columns, rows).cast(head.schema).to_batches()
            finally:
                self._end_stream(cursor)

        return pa.RecordBatchReader.from_batches(head.schema, batches())

    def _open_stream(self) -> Any:
        if not self._in_transaction and not self._streams:
            self.con.autocommit = False
        self._streams += 1
        return self.con.cursor(name=f"billflow_stream_{next(_STREAMS)}")

    def _end_stream(self, cursor: Any) -> None:
        try:
            cursor.close()
        finally:
            self._streams -= 1
            if not self._in_transaction and not self._streams:
                self.con.commit()
                self.con.autocommit = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:
            yield
            return
        self.con.autocommit = False
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        else:
            self.con.commit()
        finally:
            self._in_transaction = False
            self.con.autocommit = True

    def replace_tables(self, schema: str, tables: Mapping[str, Rows]) -> None:
        with self.transaction():
            self.execute(f"create schema if not exists {schema}")
            for table, rows in tables.items():
                self.execute(f"drop table if exists {schema}.{table}")
                self.execute(create_table_sql(schema, table, rows.schema))
                columns = ", ".join(rows.schema.names)
                statement = f"copy {schema}.{table} ({columns}) from stdin with (format csv, null '\\N')"
                with self.con.cursor() as cur:
                    for batch in iter_batches(rows):
                        _copy_csv(cur, statement, _csv_buffer(batch))

    def close(self) -> None:
        self.con.close()


def _arrow_table(columns: list[Any], rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table({column.name: _arrow_column(column, [row[i] for row in rows]) for i, column in enumerate(columns)})


_STREAMS = itertools.count()


def _copy_csv(cursor: Any, statement: str, buffer: io.StringIO) -> None:
    """COPY ... FROM STDIN with either driver: PostgresHook.get_conn() gives a psycopg 3 connection when
    psycopg is installed (Airflow's postgres provider prefers it), a psycopg2 one otherwise."""
    if hasattr(cursor, "copy_expert"):  # psycopg2
        cursor.copy_expert(statement, buffer)
        return
    with cursor.copy(statement) as copy:  # psycopg 3
        copy.write(buffer.getvalue())


def _csv_buffer(batch: pa.Table) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
        writer.writerow(["\\N" if value is None else value for value in row])
    buffer.seek(0)
    return buffer

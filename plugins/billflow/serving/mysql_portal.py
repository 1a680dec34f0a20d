"""The serving tables a portal reads, published into MySQL (Aurora MySQL; tested on MariaDB).

No dbt adapter works for MySQL, so serving is built and tested where it always is (DuckDB or PostgreSQL)
and its live tables are then copied here: invoices, invoice lines, daily costs and the locked invoices
with their lines. Each publication replaces the billing periods it is given and keeps the others, in
one atomic step for all five tables:

1. per table, a new table `<name>__load` with the live table's rows of the other periods and the
   serving database's rows of the periods given, indexed for the portal's lookups (customer and
   period, period alone);
2. the load tables are checked against the serving rows, per period: the row count and the total of
   every decimal column, summed by MySQL on one side and in Python's exact decimals on the other;
3. one `RENAME TABLE` swaps every load table in (MySQL renames several tables atomically): a reader
   sees either the old five tables or the new five, never a mix. The old ones are dropped.

A failure before the swap drops the load tables and leaves what the portal reads as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from billflow.engines.database import Database, arrow_to_sql_type, iter_batches
from billflow.engines.sql import quote_literal

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# (serving schema, table): published under the table's name in the MySQL database
PORTAL_TABLES: tuple[tuple[str, str], ...] = (
    ("billing", "invoices"),
    ("billing", "invoice_lines"),
    ("billing", "daily_costs"),
    ("billing_control", "invoice_locks"),
    ("billing_control", "locked_invoice_lines"),
)
PERIOD_COLUMN = "billing_period"
LOAD_SUFFIX, OLD_SUFFIX = "__load", "__old"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,63}")


class PortalPublishError(RuntimeError):
    """The portal tables were not replaced (what the portal reads is unchanged)."""


@dataclass(frozen=True)
class PortalPublication:
    periods: tuple[dt.date, ...]
    rows: dict[str, int]  # table -> rows of the periods published


def mysql_engine(conn_id: str) -> Engine:
    """A SQLAlchemy engine (PyMySQL) for the Airflow connection `conn_id`: host, port, login, password
    and schema (the MySQL database)."""
    from airflow.sdk import BaseHook
    from sqlalchemy import create_engine
    from sqlalchemy.engine import URL

    connection = BaseHook.get_connection(conn_id)
    if not connection.schema:
        raise ValueError(f"Airflow connection {conn_id!r} names no MySQL database (its schema field)")
    url = URL.create(
        "mysql+pymysql",
        username=connection.login or None,
        password=connection.password or None,
        host=connection.host or "localhost",
        port=connection.port or 3306,
        database=connection.schema,
    )
    return create_engine(url, pool_pre_ping=True)


def mysql_type(arrow_type: pa.DataType) -> str:
    """The MySQL column type of a serving column: the project's SQL type (money keeps its precision and
    scale), but strings of an indexable length and timestamps to the microsecond."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "varchar(255)"
    if pa.types.is_timestamp(arrow_type):
        return "datetime(6)"
    return arrow_to_sql_type(arrow_type)


def publish_to_mysql(serving: Database, engine: Engine, periods: Sequence[dt.date] | None = None) -> PortalPublication:
    """Replace the given billing periods (None: every period serving holds) of the portal tables in MySQL
    with serving's live rows, atomically for all tables; see the module docstring."""
    chosen = tuple(sorted(set(periods))) if periods is not None else _serving_periods(serving)
    for period in chosen:
        if not isinstance(period, dt.date) or isinstance(period, dt.datetime):
            raise TypeError(f"a billing period is a date, got {period!r}")
    if not chosen:
        log.info("portal (MySQL): serving holds no billing period, nothing to publish")
        return PortalPublication((), {table: 0 for _, table in PORTAL_TABLES})
    rows = {table: _serving_rows(serving, schema, table, chosen) for schema, table in PORTAL_TABLES}
    with engine.connect() as connection:
        existing = _existing_tables(connection)
        try:
            for table, new_rows in rows.items():
                _build_load_table(connection, table, new_rows, chosen, carry_over=table in existing)
                _check_load_table(connection, table, new_rows, chosen)
            _swap_in(connection, list(rows), existing)
        except Exception:
            _drop(connection, [f"{table}{LOAD_SUFFIX}" for table in rows])
            raise
    published = PortalPublication(chosen, {table: table_rows.num_rows for table, table_rows in rows.items()})
    log.info(
        "portal (MySQL): periods %s replaced: %s",
        ", ".join(f"{p:%Y-%m}" for p in chosen) or "none",
        ", ".join(f"{table} {count} rows" for table, count in published.rows.items()),
    )
    return published


def _serving_periods(serving: Database) -> tuple[dt.date, ...]:
    union = " union ".join(f"select distinct {PERIOD_COLUMN} from {schema}.{table}" for schema, table in PORTAL_TABLES)
    return tuple(sorted(period for (period,) in serving.fetch_all(union) if period is not None))


def _serving_rows(serving: Database, schema: str, table: str, periods: Sequence[dt.date]) -> pa.Table:
    return serving.fetch_arrow(f"select * from {schema}.{table} where {PERIOD_COLUMN} in ({_dates_sql(periods)})")


def _dates_sql(periods: Sequence[dt.date]) -> str:
    """The periods as a list of date literals (the same SQL in MySQL, DuckDB and PostgreSQL)."""
    return ", ".join(f"cast({quote_literal(p.isoformat())} as date)" for p in periods)


def _existing_tables(connection: Connection) -> set[str]:
    from sqlalchemy import text

    found = connection.execute(
        text("select table_name from information_schema.tables where table_schema = database()")
    ).scalars()
    return {str(name) for name in found}


def _columns(rows: pa.Table) -> list[str]:
    bad = [name for name in rows.column_names if not _IDENTIFIER.fullmatch(name)]
    if bad:
        raise PortalPublishError(f"serving columns {bad} are not plain identifiers")
    return list(rows.column_names)


def _build_load_table(
    connection: Connection, table: str, rows: pa.Table, periods: Sequence[dt.date], *, carry_over: bool
) -> None:
    from sqlalchemy import text

    columns = _columns(rows)
    load = f"{table}{LOAD_SUFFIX}"
    definitions = ", ".join(f"`{name}` {mysql_type(rows.schema.field(name).type)}" for name in columns)
    indexes = f"index ix_{table}_period ({PERIOD_COLUMN})"
    if "customer_id" in columns:
        indexes += f", index ix_{table}_customer_period (customer_id, {PERIOD_COLUMN})"
    connection.execute(text(f"drop table if exists `{load}`"))
    connection.execute(text(f"create table `{load}` ({definitions}, {indexes}) engine=InnoDB default charset=utf8mb4"))
    if carry_over:  # the other periods, in the columns the live table and the new one share
        live = {
            str(name)
            for name in connection.execute(
                text(
                    "select column_name from information_schema.columns "
                    "where table_schema = database() and table_name = :table"
                ),
                {"table": table},
            ).scalars()
        }
        shared = ", ".join(f"`{name}`" for name in columns if name in live)
        connection.execute(
            text(
                f"insert into `{load}` ({shared}) select {shared} from `{table}` "
                f"where {PERIOD_COLUMN} not in ({_dates_sql(periods)})"
            )
        )
    insert = text(
        f"insert into `{load}` ({', '.join(f'`{c}`' for c in columns)}) values ({', '.join(f':{c}' for c in columns)})"
    )
    for batch in iter_batches(rows, 10_000):
        records = batch.to_pylist()
        if records:
            connection.execute(insert, records)
    connection.commit()


def _check_load_table(connection: Connection, table: str, rows: pa.Table, periods: Sequence[dt.date]) -> None:
    """Per period: rows and the total of each decimal column in the load table equal serving's."""
    import pyarrow as pa
    from sqlalchemy import text

    money = [field.name for field in rows.schema if pa.types.is_decimal(field.type)]
    expected: dict[dt.date, list[Any]] = {p: [0] + [Decimal(0)] * len(money) for p in periods}
    for record in rows.select([PERIOD_COLUMN, *money]).to_pylist():
        totals = expected[record[PERIOD_COLUMN]]
        totals[0] += 1
        for i, name in enumerate(money, start=1):
            totals[i] += record[name] or 0
    sums = "".join(f", coalesce(sum(`{name}`), 0)" for name in money)
    found = {
        period: [count, *values]
        for period, count, *values in connection.execute(
            text(
                f"select {PERIOD_COLUMN}, count(*){sums} from `{table}{LOAD_SUFFIX}` "
                f"where {PERIOD_COLUMN} in ({_dates_sql(periods)}) group by {PERIOD_COLUMN}"
            )
        )
    }
    for period, totals in expected.items():
        got = found.get(period, [0] + [Decimal(0)] * len(money))
        if totals[0] == 0 and period not in found:
            continue
        if [got[0], *(Decimal(v) for v in got[1:])] != totals:
            raise PortalPublishError(
                f"portal table {table}, period {period:%Y-%m}: MySQL holds {got} (rows, {', '.join(money)}), "
                f"serving {totals}: nothing was replaced"
            )


def _swap_in(connection: Connection, tables: list[str], existing: set[str]) -> None:
    from sqlalchemy import text

    renames = []
    for table in tables:
        if table in existing:
            renames.append(f"`{table}` to `{table}{OLD_SUFFIX}`")
        renames.append(f"`{table}{LOAD_SUFFIX}` to `{table}`")
    _drop(connection, [f"{table}{OLD_SUFFIX}" for table in tables])
    connection.execute(text("rename table " + ", ".join(renames)))
    _drop(connection, [f"{table}{OLD_SUFFIX}" for table in tables])


def _drop(connection: Connection, tables: list[str]) -> None:
    from sqlalchemy import text

    if tables:
        connection.execute(text("drop table if exists " + ", ".join(f"`{t}`" for t in tables)))
        connection.commit()

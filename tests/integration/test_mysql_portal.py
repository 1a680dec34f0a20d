"""The portal's tables published into MySQL (Aurora MySQL), here a real MariaDB server the tests start
(tests/integration/conftest.py), from a real serving database: the loaded and closed month of
tests/reliability/conftest.py (both payers' September loaded, three invoices locked)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billflow.engines.duckdb_database import DuckDBDatabase
from billflow.serving.mysql_portal import PORTAL_TABLES, publish_to_mysql
from tests.reliability.conftest import loaded_month  # noqa: F401 - the session's loaded month

SEPTEMBER, AUGUST = date(2026, 9, 1), date(2026, 8, 1)
PORTAL_CONN_ID = "billflow_portal"


@pytest.fixture
def serving_copy(loaded_month, tmp_path) -> Path:  # noqa: F811
    """A copy of the loaded month's serving database for one test to change."""
    copy = tmp_path / "serving.duckdb"
    shutil.copyfile(loaded_month / "serving.duckdb", copy)
    return copy


@pytest.fixture
def portal(mariadb_server):
    """An empty MySQL database and a SQLAlchemy engine on it."""
    from sqlalchemy import create_engine

    database = mariadb_server.create_database("portal")
    engine = create_engine(f"mysql+pymysql://root@{mariadb_server.host}:{mariadb_server.port}/{database}")
    yield engine, database
    engine.dispose()


def publish(serving: Path, engine, periods=None):
    source = DuckDBDatabase(serving, read_only=True)
    try:
        return publish_to_mysql(source, engine, periods)
    finally:
        source.close()


def serving_rows(serving: Path, schema: str, table: str) -> list[tuple]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return sorted(con.execute(f"select * from {schema}.{table}").fetchall(), key=repr)


def mysql_rows(mariadb_server, database: str, table: str) -> list[tuple]:
    connection = mariadb_server.connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"select * from `{table}`")
            return sorted(cursor.fetchall(), key=repr)
    finally:
        connection.close()


def tables_of(mariadb_server, database: str) -> set[str]:
    connection = mariadb_server.connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("show tables")
            return {name for (name,) in cursor.fetchall()}
    finally:
        connection.close()


def booleans_as_mysql(rows: list[tuple]) -> list[tuple]:
    """MySQL's boolean is tinyint(1): True and False come back as 1 and 0."""
    return sorted((tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows), key=repr)


def test_every_portal_table_is_published_with_serving_rows_and_the_portals_indexes(
    serving_copy, portal, mariadb_server
):
    engine, database = portal

    published = publish(serving_copy, engine)

    assert published.periods == (SEPTEMBER,)
    assert tables_of(mariadb_server, database) == {table for _, table in PORTAL_TABLES}
    for schema, table in PORTAL_TABLES:
        expected = booleans_as_mysql(serving_rows(serving_copy, schema, table))
        assert mysql_rows(mariadb_server, database, table) == expected, table
        assert published.rows[table] == len(expected)
    # the loaded month: acme, initech and umbrella locked (tests/reliability/conftest.py), to the cent
    locks = mysql_rows(mariadb_server, database, "invoice_locks")
    assert [row[0] for row in locks] == ["acme", "initech", "umbrella"]
    assert all(isinstance(row[4], Decimal) and row[4] == row[4].quantize(Decimal("0.01")) for row in locks)
    connection = mariadb_server.connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select table_name, index_name, group_concat(column_name order by seq_in_index) "
                "from information_schema.statistics where table_schema = database() "
                "group by table_name, index_name"
            )
            indexes = {(table, columns) for table, _, columns in cursor.fetchall()}
    finally:
        connection.close()
    for _, table in PORTAL_TABLES:
        assert (table, "customer_id,billing_period") in indexes, table
        assert (table, "billing_period") in indexes, table


def test_publishing_a_period_replaces_that_period_and_keeps_the_others(serving_copy, portal, mariadb_server):
    engine, database = portal
    publish(serving_copy, engine)
    with duckdb.connect(str(serving_copy)) as con:
        # September restated, and an August invoice that is not published until August is
        con.execute("update billing.invoices set total_amount = total_amount + 1 where customer_id = 'initech'")
        con.execute(
            "insert into billing.invoices (customer_id, customer_name, billing_period, status, currency_code, "
            "line_count, total_amount, adjustment_amount, published_total_amount, amortized_cost, is_cur_final) "
            "values ('acme', 'Acme', date '2026-08-01', 'provisional', 'USD', 1, 10.00, 0, 10.00, 10, false)"
        )

    publish(serving_copy, engine, [SEPTEMBER])

    invoices = mysql_rows(mariadb_server, database, "invoices")
    assert {row[2] for row in invoices} == {SEPTEMBER}  # August was not given
    totals = {row[0]: row[8] for row in invoices}
    assert totals["initech"] == september_total(serving_copy, "initech")

    publish(serving_copy, engine, [AUGUST])

    invoices = mysql_rows(mariadb_server, database, "invoices")
    assert [(row[0], row[2], row[8]) for row in invoices if row[2] == AUGUST] == [("acme", AUGUST, Decimal("10.00"))]
    assert {row[0]: row[8] for row in invoices if row[2] == SEPTEMBER} == totals  # kept as published

    publish(serving_copy, engine)  # again, every period: the same rows (idempotent)

    assert mysql_rows(mariadb_server, database, "invoices") == invoices
    assert tables_of(mariadb_server, database) == {table for _, table in PORTAL_TABLES}


def september_total(serving: Path, customer: str) -> Decimal:
    with duckdb.connect(str(serving), read_only=True) as con:
        ((total,),) = con.execute(
            "select total_amount from billing.invoices where customer_id = ? and billing_period = ?",
            [customer, SEPTEMBER],
        ).fetchall()
    return total


def test_a_publication_that_fails_leaves_the_portal_as_it_was(serving_copy, portal, mariadb_server):
    engine, database = portal
    publish(serving_copy, engine)
    before = {table: mysql_rows(mariadb_server, database, table) for _, table in PORTAL_TABLES}
    with duckdb.connect(str(serving_copy)) as con:
        con.execute("update billing.invoices set total_amount = total_amount + 5")  # the invoices change
        # a daily cost row MySQL refuses (longer than its varchar(255)): the load of daily_costs fails
        con.execute("update billing.daily_costs set product_code = repeat('x', 300) where customer_id = 'acme'")

    with pytest.raises(Exception, match=r"product_code|too long"):
        publish(serving_copy, engine)

    after = {table: mysql_rows(mariadb_server, database, table) for _, table in PORTAL_TABLES}
    assert after == before  # invoices included: all five tables swap together or not at all
    assert tables_of(mariadb_server, database) == {table for _, table in PORTAL_TABLES}  # no load table left


def test_the_publish_portal_step_reaches_mysql_through_an_airflow_connection_and_is_off_without_one(
    serving_copy, portal, mariadb_server, monkeypatch
):
    """The step the DAGs' publish_portal task runs, in a home holding the loaded month's serving database,
    with the connection BILLFLOW_PORTAL_MYSQL_CONN_ID names (AIRFLOW_CONN_<ID>, as any Airflow connection)."""
    from billflow.config import load_settings
    from billflow.orchestration import steps

    _, database = portal
    monkeypatch.setenv("BILLFLOW_HOME", str(serving_copy.parent))
    monkeypatch.delenv("BILLFLOW_SERVING_PATH", raising=False)
    monkeypatch.delenv("BILLFLOW_SERVING_CONN_ID", raising=False)
    monkeypatch.setenv("BILLFLOW_PORTAL_MYSQL_CONN_ID", PORTAL_CONN_ID)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{PORTAL_CONN_ID.upper()}",
        f"mysql://root@{mariadb_server.host}:{mariadb_server.port}/{database}",
    )

    rows = steps.publish_portal(load_settings())

    serving = serving_copy
    assert rows == {table: len(serving_rows(serving, schema, table)) for schema, table in PORTAL_TABLES}
    assert mysql_rows(mariadb_server, database, "invoices") == booleans_as_mysql(
        serving_rows(serving, "billing", "invoices")
    )
    monkeypatch.delenv("BILLFLOW_PORTAL_MYSQL_CONN_ID")
    assert steps.publish_portal(load_settings()) is None  # not configured: the task is skipped

"""The serving database on PostgreSQL (compose stack; Aurora PostgreSQL on AWS): the load ledger, the
monthly close's invoice locks, the run lock, releases, the migration of earlier control tables and
publishing pass the very tests the embedded DuckDB adapter passes (tests/contracts), on a throw-away
cluster started by tests/integration/conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from billflow.config import load_settings
from billflow.control.schema import ensure_control_tables
from billflow.engines.factory import serving_database
from billflow.engines.postgres_database import PostgresDatabase
from tests.contracts.control_tables import *  # noqa: F403
from tests.contracts.databases import serving  # noqa: F401  (fixture of the contract tests)
from tests.contracts.publishing import *  # noqa: F403
from tests.contracts.releases import *  # noqa: F403
from tests.contracts.restatement import *  # noqa: F403


@pytest.fixture(params=["postgres-psycopg2", "postgres-psycopg3"])
def serving_backend(request) -> str:
    """Run the contract tests imported above on PostgreSQL (overrides tests/contracts' DuckDB default),
    through both drivers: PostgresHook.get_conn() returns psycopg 3 connections when psycopg is installed."""
    return request.param


INIT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "postgres-init" / "10-billflow-serving-db.sh"


def run_init_script(postgres_server, password: str) -> None:
    env = {
        **os.environ,
        "PATH": f"{postgres_server.bindir}:{os.environ.get('PATH', '')}",
        "PGHOST": postgres_server.host,
        "PGPORT": str(postgres_server.port),
        "POSTGRES_USER": postgres_server.user,
        "POSTGRES_DB": "postgres",
        "BILLFLOW_PG_USER": "billflow",
        "BILLFLOW_PG_PASSWORD": password,
        "BILLFLOW_PG_DBNAME": "billflow",
    }
    done = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def require_password_for_billflow(postgres_server) -> None:
    """The test cluster trusts every login; make the billflow role prove its password, as in compose."""
    admin = postgres_server.connect()
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("show hba_file")
            hba = Path(cur.fetchone()[0])
            rule = "host billflow billflow 127.0.0.1/32 scram-sha-256\n"
            if rule not in hba.read_text():
                hba.write_text(rule + hba.read_text())
            cur.execute("select pg_reload_conf()")
    finally:
        admin.close()


def test_the_compose_init_script_and_connection_give_billflow_its_own_database(postgres_server, monkeypatch):
    password = "it's an example, $not real"  # quotes and $ must survive psql variables and the JSON connection
    run_init_script(postgres_server, password)
    run_init_script(postgres_server, password)  # a second run (script re-run by hand) changes nothing
    require_password_for_billflow(postgres_server)

    admin = postgres_server.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(
                "select pg_get_userbyid(datdba), r.rolsuper from pg_database d "
                "join pg_roles r on r.oid = d.datdba where datname = 'billflow'"
            )
            assert cur.fetchall() == [("billflow", False)]
    finally:
        admin.close()

    # the billflow_serving connection as docker-compose.yml defines it, host and port of the test cluster
    connection = {"conn_type": "postgres", "host": postgres_server.host, "port": postgres_server.port}
    monkeypatch.setenv("BILLFLOW_SERVING_CONN_ID", "billflow_serving")
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLFLOW_SERVING",
        json.dumps({**connection, "schema": "billflow", "login": "billflow", "password": password + "x"}),
    )
    with pytest.raises(Exception, match="password authentication failed"):
        serving_database(load_settings())
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLFLOW_SERVING",
        json.dumps({**connection, "schema": "billflow", "login": "billflow", "password": password}),
    )

    owner = serving_database(load_settings())
    try:
        assert isinstance(owner, PostgresDatabase)
        assert owner.fetch_all("select current_user, current_database()") == [("billflow", "billflow")]
        # the owner (not a superuser) creates billflow's schemas and tables, money as numeric(p, s)
        ensure_control_tables(owner)
        assert owner.fetch_all(
            "select table_name, column_name, data_type, numeric_precision, numeric_scale "
            "from information_schema.columns where table_schema = 'billing_control' "
            "and column_name in ('unblended_cost', 'total_amount', 'amount') order by 1, 2"
        ) == [
            ("invoice_locks", "total_amount", "numeric", 18, 2),
            ("load_ledger", "unblended_cost", "numeric", 38, 10),
            ("locked_invoice_lines", "amount", "numeric", 18, 2),
            ("staged_versions", "unblended_cost", "numeric", 38, 10),
        ]
        owner.replace_tables("published", {"t": pa.table({"x": pa.array([Decimal("1.5")], pa.decimal128(38, 10))})})
        assert owner.fetch_all("select x from published.t") == [(Decimal("1.5000000000"),)]
    finally:
        owner.close()

"""The serving database on PostgreSQL (compose stack; Aurora PostgreSQL on AWS): the load ledger,
invoice locks and publishing pass the very tests the embedded DuckDB adapter passes
(tests/contracts), on a throw-away cluster started by tests/integration/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from billflow.control.schema import ensure_control_tables
from billflow.engines.postgres_database import PostgresDatabase

from tests.contracts.control_tables import *  # noqa: F403
from tests.contracts.databases import serving  # noqa: F401  (fixture of the contract tests)
from tests.contracts.publishing import *  # noqa: F403


@pytest.fixture
def serving_backend() -> str:
    """Run the contract tests imported above on PostgreSQL (overrides tests/contracts' DuckDB default)."""
    return "postgres"


INIT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "postgres-init" / "10-billflow-serving-db.sh"


def test_the_compose_init_script_creates_the_serving_database_and_owner(postgres_server):
    env = {
        **os.environ,
        "PATH": f"{postgres_server.bindir}:{os.environ.get('PATH', '')}",
        "PGHOST": postgres_server.host,
        "PGPORT": str(postgres_server.port),
        "POSTGRES_USER": postgres_server.user,
        "POSTGRES_DB": "postgres",
        "BILLFLOW_PG_USER": "billflow",
        "BILLFLOW_PG_PASSWORD": "billflow-example-password",
        "BILLFLOW_PG_DBNAME": "billflow",
    }
    for _ in range(2):  # a second run (volume kept, script re-run by hand) changes nothing
        done = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

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
    import psycopg2

    owner = PostgresDatabase(
        psycopg2.connect(host=postgres_server.host, port=postgres_server.port, user="billflow", dbname="billflow")
    )
    try:
        # the owner (not a superuser) can create billflow's schemas and tables, money as numeric(p, s)
        ensure_control_tables(owner)
        assert owner.fetch_all(
            "select table_name, column_name, data_type, numeric_precision, numeric_scale "
            "from information_schema.columns where table_schema = 'billing_control' "
            "and column_name in ('unblended_cost', 'total_amount', 'amount') order by 1, 2"
        ) == [
            ("invoice_locks", "total_amount", "numeric", 18, 2),
            ("load_ledger", "unblended_cost", "numeric", 38, 10),
            ("locked_invoice_lines", "amount", "numeric", 18, 2),
        ]
        owner.replace_tables("published", {"t": pa.table({"x": pa.array([Decimal("1.5")], pa.decimal128(38, 10))})})
        assert owner.fetch_all("select x from published.t") == [(Decimal("1.5000000000"),)]
    finally:
        owner.close()

"""The `serving` fixture: an empty serving database with the control tables, on the chosen adapter."""

from __future__ import annotations

import pytest

from billflow.control.schema import ensure_control_tables

# postgres-psycopg3: what PostgresDatabase.from_airflow() gets from PostgresHook when psycopg 3 is installed
SERVING_BACKENDS = ("duckdb", "postgres-psycopg2", "postgres-psycopg3")


def open_serving(backend: str, request: pytest.FixtureRequest, tmp_path):
    if backend == "duckdb":
        from billflow.engines.duckdb_database import DuckDBDatabase

        return DuckDBDatabase(tmp_path / "serving.duckdb")
    if backend.startswith("postgres-"):
        from billflow.engines.postgres_database import PostgresDatabase

        # session cluster from tests/integration/conftest.py; a new database per test
        server = request.getfixturevalue("postgres_server")
        dbname = server.create_database("serving")
        driver = backend.removeprefix("postgres-")
        return PostgresDatabase(server.connect(dbname, driver=driver), name=f"{backend}:{dbname}")
    raise ValueError(f"unknown serving backend {backend!r}, expected one of {SERVING_BACKENDS}")


@pytest.fixture
def serving_backend() -> str:
    """Which adapter `serving` is; a test module overrides this fixture to run the contract elsewhere."""
    return "duckdb"


@pytest.fixture
def serving(request, tmp_path, serving_backend):
    database = open_serving(serving_backend, request, tmp_path)
    try:
        ensure_control_tables(database)
        ensure_control_tables(database)  # idempotent
        yield database
    finally:
        database.close()

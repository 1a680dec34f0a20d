"""Pick the adapter of each port from the settings (configuration alone decides the deployment)."""

from __future__ import annotations

from billflow.config import Settings
from billflow.engines.database import Database
from billflow.engines.query import QueryEngine
from billflow.storage.base import ObjectStore, open_store


def landing_store(settings: Settings) -> ObjectStore:
    return open_store(settings.landing_uri, settings.aws_conn_id)


def staged_store(settings: Settings) -> ObjectStore:
    return open_store(settings.staged_uri, settings.aws_conn_id)


def query_engine(settings: Settings) -> QueryEngine:
    if settings.query_engine == "athena":
        from billflow.engines.athena_engine import AthenaEngine

        return AthenaEngine(
            aws_conn_id=settings.aws_conn_id,
            database=settings.athena_database,
            workgroup=settings.athena_workgroup,
            output_uri=settings.athena_output_uri,
        )
    from billflow.engines.duckdb_engine import DuckDBEngine

    return DuckDBEngine(aws_conn_id=settings.aws_conn_id)


def serving_database(settings: Settings) -> Database:
    if settings.serving_conn_id:
        from billflow.engines.postgres_database import PostgresDatabase

        return PostgresDatabase.from_airflow(settings.serving_conn_id)
    from billflow.engines.duckdb_database import DuckDBDatabase

    return DuckDBDatabase(settings.serving_path)


def warehouse_database(settings: Settings) -> Database:
    """Read access to the warehouse marts (Redshift speaks the Postgres protocol)."""
    if settings.warehouse_conn_id:
        from billflow.engines.postgres_database import PostgresDatabase

        return PostgresDatabase.from_airflow(settings.warehouse_conn_id)
    from billflow.engines.duckdb_database import DuckDBDatabase

    return DuckDBDatabase(settings.warehouse_path, read_only=True)

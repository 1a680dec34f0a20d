"""The serving shadow: where a new serving state is built and tested before it replaces the live one.

Publishing copies the warehouse marts into `published_shadow`, and the dbt serving target builds its
models into `billing_shadow` from there (dbt_project.yml), so the serving tests run on exactly what is
about to go live. The release (billflow.control.release) copies both shadows over the live schemas
`published` and `billing` inside its transaction; a failed check leaves the live tables as they were.
"""

from __future__ import annotations

from billflow.engines.database import Database

PUBLISHED_SCHEMA = "published"
PUBLISHED_SHADOW_SCHEMA = "published_shadow"
BILLING_SCHEMA = "billing"
BILLING_SHADOW_SCHEMA = "billing_shadow"
# shadow schema -> the live schema it replaces
SHADOWS = {PUBLISHED_SHADOW_SCHEMA: PUBLISHED_SCHEMA, BILLING_SHADOW_SCHEMA: BILLING_SCHEMA}


class ShadowError(RuntimeError):
    """The serving shadow is missing tables a release needs."""


def schema_tables(db: Database, schema: str) -> list[str]:
    rows = db.fetch_all(
        "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' "
        "order by table_name",
        (schema,),
    )
    return [str(name) for (name,) in rows]


def copy_tables(db: Database, source_schema: str, target_schema: str, tables: list[str]) -> None:
    """Make each target_schema.table a copy of source_schema.table, in one transaction."""
    with db.transaction():
        db.execute(f"create schema if not exists {target_schema}")
        for table in tables:
            db.execute(f"drop table if exists {target_schema}.{table}")
            db.execute(f"create table {target_schema}.{table} as select * from {source_schema}.{table}")


def swap_in_serving_shadow(db: Database) -> None:
    """Copy both shadows over the live serving schemas (inside the caller's transaction)."""
    for shadow, live in SHADOWS.items():
        tables = schema_tables(db, shadow)
        if not tables:
            raise ShadowError(f"the serving shadow {shadow} is empty: nothing was built to release")
        copy_tables(db, shadow, live, tables)


def refresh_published_shadow(db: Database) -> list[str]:
    """Start a serving-only rebuild (the monthly close) from the live published marts."""
    tables = schema_tables(db, PUBLISHED_SCHEMA)
    if tables:
        copy_tables(db, PUBLISHED_SCHEMA, PUBLISHED_SHADOW_SCHEMA, tables)
    return tables

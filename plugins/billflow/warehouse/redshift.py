"""The warehouse of a load on a database server (Redshift): built in candidate schemas, released by renaming.

The live warehouse is a set of schemas (`WAREHOUSE_SCHEMAS`). A load builds the next one beside it, in the
same schemas with the suffix `__candidate`: it copies the staged versions of its release from the Spectrum
external tables (billflow.warehouse.spectrum) into `staged__candidate`, records its build id and versions in
`billflow_meta__candidate`, and dbt builds and tests every model there (generate_schema_name adds the
suffix). The release renames, in one transaction, each live schema to `__replaced` and each candidate schema
to the live name, then drops the replaced ones: readers see the old warehouse or the new one, never a mix,
and a failed build leaves the live schemas as they were.

The views of the build are ordinary (schema-bound) views: they name the candidate's own tables, which the
rename carries along, and never the external tables, so a partition registered in Glue is read only by the
build that copies it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from billflow.config import Settings
from billflow.engines.database import Database
from billflow.engines.sql import quote_literal
from billflow.staging.versions import COST_TABLE, VersionRef
from billflow.warehouse.spectrum import PARTITION_KEYS, STAGED_TABLES, external_schema_sql, partition_values

log = logging.getLogger(__name__)

CANDIDATE_SUFFIX = "__candidate"
REPLACED_SUFFIX = "__replaced"
STAGED_SCHEMA_NAME = "staged"
META_SCHEMA_NAME = "billflow_meta"
# every schema of the warehouse: the staged copy, the build record, and the schemas dbt builds
# (dbt_project.yml: seeds in reference, models in staging, intermediate and marts)
WAREHOUSE_SCHEMAS = (STAGED_SCHEMA_NAME, META_SCHEMA_NAME, "reference", "staging", "intermediate", "marts")


class RedshiftWarehouseError(RuntimeError):
    """The candidate warehouse schemas cannot be prepared or released."""


@contextmanager
def _warehouse(settings: Settings) -> Iterator[Database]:
    from billflow.engines.factory import warehouse_database

    db = warehouse_database(settings)
    try:
        yield db
    finally:
        db.close()


def _schema_exists(db: Database, schema: str) -> bool:
    return bool(db.fetch_all("select 1 from pg_namespace where nspname = ?", (schema,)))


def _ensure_external_schema(db: Database, settings: Settings) -> None:
    found = db.fetch_all("select 1 from svv_external_schemas where schemaname = ?", (settings.spectrum_schema,))
    if not found:
        db.execute(external_schema_sql(settings))
        log.info(
            "created the external schema %s over Glue %s", settings.spectrum_schema, settings.spectrum_glue_database
        )


def _version_term(version: VersionRef) -> str:
    values = zip(PARTITION_KEYS, partition_values(version), strict=True)
    return "(" + " and ".join(f"{key} = {quote_literal(value)}" for key, value in values) + ")"


def versions_filter(versions: Iterable[VersionRef]) -> str:
    """A where clause choosing exactly these versions' partitions of a Spectrum table."""
    return " or ".join(_version_term(v) for v in versions) or "1 = 0"


def prepare_sql(settings: Settings, versions: Iterable[VersionRef]) -> list[str]:
    """The statements that make an empty candidate holding the staged versions (after dropping any earlier one)."""
    chosen = sorted(versions)
    statements = [f"drop schema if exists {schema}{CANDIDATE_SUFFIX} cascade" for schema in WAREHOUSE_SCHEMAS]
    statements += [
        f"create schema {STAGED_SCHEMA_NAME}{CANDIDATE_SUFFIX}",
        f"create schema {META_SCHEMA_NAME}{CANDIDATE_SUFFIX}",
    ]
    for table, schema in STAGED_TABLES.items():
        statements.append(
            f"create table {STAGED_SCHEMA_NAME}{CANDIDATE_SUFFIX}.{table} as "
            f"select {', '.join(schema.names)} from {settings.spectrum_schema}.{table} where {versions_filter(chosen)}"
        )
    statements += [
        f"create table {META_SCHEMA_NAME}{CANDIDATE_SUFFIX}.build (build_id varchar(256) not null)",
        f"create table {META_SCHEMA_NAME}{CANDIDATE_SUFFIX}.build_versions "
        "(payer_account_id varchar(13) not null, billing_period date not null, version_id varchar(256) not null)",
    ]
    return statements


def prepare(settings: Settings, versions: Iterable[VersionRef], build_id: str) -> tuple[int, int]:
    """A new candidate holding the given staged versions, ready for `dbt build`; returns its (cost, tag) rows."""
    chosen = sorted(versions)
    started = time.perf_counter()
    with _warehouse(settings) as db:
        _ensure_external_schema(db, settings)
        for statement in prepare_sql(settings, chosen):
            db.execute(statement)
        db.execute(f"insert into {META_SCHEMA_NAME}{CANDIDATE_SUFFIX}.build values (?)", (build_id,))
        for v in chosen:
            db.execute(
                f"insert into {META_SCHEMA_NAME}{CANDIDATE_SUFFIX}.build_versions values (?, ?, ?)",
                (v.payer_account_id, v.billing_period, v.version_id),
            )
        rows = [
            int(db.fetch_all(f"select count(*) from {STAGED_SCHEMA_NAME}{CANDIDATE_SUFFIX}.{table}")[0][0])
            for table in STAGED_TABLES
        ]
        _check_every_version_copied(db, chosen)
    log.info(
        "candidate warehouse schemas for build %s: %d staged versions, %d cost rows, %d tag rows (%.2f s)",
        build_id,
        len(chosen),
        *rows,
        time.perf_counter() - started,
    )
    return rows[0], rows[1]


def _check_every_version_copied(db: Database, versions: list[VersionRef]) -> None:
    """A version registered in Glue whose files Spectrum cannot read would leave the warehouse without it.
    A release holds one version per (payer, period), so a partition with no rows names the version."""
    counts = db.fetch_all(
        f"select payer_account_id, billing_period, count(*) from {STAGED_SCHEMA_NAME}{CANDIDATE_SUFFIX}.{COST_TABLE} "
        "group by payer_account_id, billing_period"
    )
    present = {(str(payer), period) for payer, period, _ in counts}
    missing = [v.label for v in versions if (v.payer_account_id, v.billing_period) not in present]
    if missing:
        raise RedshiftWarehouseError(
            f"the Spectrum tables hold no rows of {', '.join(missing)}: their partitions are not registered "
            "in Glue or the warehouse's IAM role cannot read their files"
        )


def build_id(settings: Settings, suffix: str = "") -> str | None:
    """The build id the live (or, with CANDIDATE_SUFFIX, the candidate) warehouse records; None when none."""
    with _warehouse(settings) as db:
        return _build_id(db, suffix)


def _build_id(db: Database, suffix: str) -> str | None:
    found = db.fetch_all(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'build'",
        (f"{META_SCHEMA_NAME}{suffix}",),
    )
    if found[0][0] == 0:
        return None
    rows = db.fetch_all(f"select build_id from {META_SCHEMA_NAME}{suffix}.build")
    return str(rows[0][0]) if len(rows) == 1 else None


def release_sql(live_schemas: Iterable[str]) -> list[str]:
    """The renames that make the candidate live (the live schemas that exist are moved aside, then dropped)."""
    live = set(live_schemas)
    statements = [f"drop schema if exists {schema}{REPLACED_SUFFIX} cascade" for schema in WAREHOUSE_SCHEMAS]
    for schema in WAREHOUSE_SCHEMAS:
        if schema in live:
            statements.append(f"alter schema {schema} rename to {schema}{REPLACED_SUFFIX}")
        statements.append(f"alter schema {schema}{CANDIDATE_SUFFIX} rename to {schema}")
    statements += [f"drop schema {schema}{REPLACED_SUFFIX} cascade" for schema in WAREHOUSE_SCHEMAS if schema in live]
    return statements


def release(settings: Settings, expected_build_id: str) -> None:
    """Make the candidate of `expected_build_id` the live warehouse, in one transaction."""
    with _warehouse(settings) as db, db.transaction():
        found = _build_id(db, CANDIDATE_SUFFIX)
        if found != expected_build_id:
            raise RedshiftWarehouseError(
                f"the candidate schemas hold build {found!r}, not {expected_build_id!r}: nothing to release"
            )
        missing = [s for s in WAREHOUSE_SCHEMAS if not _schema_exists(db, s + CANDIDATE_SUFFIX)]
        if missing:
            raise RedshiftWarehouseError(
                f"the candidate lacks the schemas {', '.join(missing)}: the build is incomplete"
            )
        for statement in release_sql(s for s in WAREHOUSE_SCHEMAS if _schema_exists(db, s)):
            db.execute(statement)
    log.info("warehouse schemas are now build %s", expected_build_id)


def discard(settings: Settings, keep_build_id: str | None = None) -> bool:
    """Drop a candidate left by a failed run (never the one of `keep_build_id`)."""
    with _warehouse(settings) as db:
        present = [s for s in WAREHOUSE_SCHEMAS if _schema_exists(db, s + CANDIDATE_SUFFIX)]
        if not present or (keep_build_id is not None and _build_id(db, CANDIDATE_SUFFIX) == keep_build_id):
            return False
        with db.transaction():
            for schema in present:
                db.execute(f"drop schema {schema}{CANDIDATE_SUFFIX} cascade")
    log.info("discarded the candidate warehouse schemas")
    return True


def live_versions(settings: Settings) -> list[tuple[str, str, str]]:
    """(payer, YYYY-MM, version id) of every staged version the live warehouse was built from."""
    with _warehouse(settings) as db:
        if _build_id(db, "") is None:
            return []
        rows = db.fetch_all(
            f"select payer_account_id, billing_period, version_id from {META_SCHEMA_NAME}.build_versions"
        )
    return sorted((str(payer), period.strftime("%Y-%m"), str(version)) for payer, period, version in rows)

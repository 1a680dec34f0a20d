"""The warehouse of a load is built beside the live one and replaces it only once everything passed.

Embedded and compose deployments keep the warehouse in a DuckDB file. A load builds a new one from
nothing at `Settings.warehouse_candidate_path`: the staged partitions of the release (live versions
plus the new, gated ones) are loaded into its `staged` schema, where the dbt sources read them, and
dbt builds and tests every model there. The live file is untouched until the release commits; then the
candidate file is renamed over it (one atomic rename; readers keep the file they opened). A failed
build leaves the live warehouse exactly as it was.

On a database server (Redshift: BILLFLOW_WAREHOUSE_CONN_ID set) the same steps build into candidate
schemas and release by renaming them (billflow.warehouse.redshift); each function here picks the adapter.

Each build records its id (the id of the release it is for) and the versions it holds in the
`billflow_meta` schema, so a release committed just before a crash can be completed later
(`complete_warehouse_release`) and anyone can see which deliveries a warehouse was built from.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from billflow.config import Settings
from billflow.engines.database import Database, arrow_to_sql_type
from billflow.engines.sql import quote_literal
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from billflow.staging.versions import COST_TABLE, TAG_TABLE, VersionRef
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)

STAGED_SOURCE_SCHEMA = "staged"
META_SCHEMA = "billflow_meta"


class WarehouseBuildError(RuntimeError):
    """The candidate warehouse cannot be prepared or released."""


@dataclass(frozen=True)
class BuildInfo:
    build_id: str
    versions: tuple[VersionRef, ...]
    cost_rows: int
    tag_rows: int


def _on_server(settings: Settings) -> bool:
    return settings.warehouse_conn_id is not None


def _connect(path: Path, read_only: bool = False):
    import duckdb

    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set timezone = 'UTC'")
    return con


def _remove_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _create_table(con, schema: str, table: str, arrow_schema: pa.Schema) -> None:
    columns = ", ".join(f"{field.name} {arrow_to_sql_type(field.type)}" for field in arrow_schema)
    con.execute(f"create table {schema}.{table} ({columns})")


def _load_staged_table(con, store: ObjectStore, table: str, keys: Sequence[str], schema: pa.Schema) -> int:
    _create_table(con, STAGED_SOURCE_SCHEMA, table, schema)
    if not keys:
        return 0
    uris = [store.uri(key) for key in keys]
    files = ", ".join(quote_literal(uri) for uri in uris)
    source = f"read_parquet([{files}], hive_partitioning = false)"
    con.execute(f"insert into {STAGED_SOURCE_SCHEMA}.{table} by name select * from {source}")
    ((rows,),) = con.execute(f"select count(*) from {STAGED_SOURCE_SCHEMA}.{table}").fetchall()
    return int(rows)


def prepare_warehouse_build(
    settings: Settings, store: ObjectStore, versions: Iterable[VersionRef], build_id: str
) -> BuildInfo:
    """A new, empty candidate warehouse holding the given staged versions, ready for `dbt build`."""
    chosen = tuple(sorted(versions))
    if _on_server(settings):
        from billflow.warehouse import redshift

        cost_rows, tag_rows = redshift.prepare(settings, chosen, build_id)
        return BuildInfo(build_id, chosen, cost_rows, tag_rows)
    path = settings.warehouse_candidate_path
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_file(path)
    started = time.perf_counter()
    con = _connect(path)
    try:
        con.execute(f"create schema {STAGED_SOURCE_SCHEMA}")
        con.execute(f"create schema {META_SCHEMA}")
        if store.root_uri.startswith("s3://"):
            from billflow.engines.parquet_files import s3_filesystem

            con.register_filesystem(s3_filesystem(getattr(store, "aws_conn_id", "aws_default")))
        cost_rows = _load_staged_table(con, store, COST_TABLE, [v.cost_key for v in chosen], STAGED_SCHEMA)
        tag_rows = _load_staged_table(con, store, TAG_TABLE, [v.tags_key for v in chosen], STAGED_TAG_SCHEMA)
        con.execute(f"create table {META_SCHEMA}.build (build_id varchar not null)")
        con.execute(f"insert into {META_SCHEMA}.build values (?)", [build_id])
        con.execute(
            f"create table {META_SCHEMA}.build_versions "
            "(payer_account_id varchar not null, billing_period date not null, version_id varchar not null)"
        )
        con.executemany(
            f"insert into {META_SCHEMA}.build_versions values (?, ?, ?)",
            [[v.payer_account_id, v.billing_period, v.version_id] for v in chosen],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    log.info(
        "candidate warehouse %s for build %s: %d staged versions, %d cost rows, %d tag rows (%.2f s)",
        path,
        build_id,
        len(chosen),
        cost_rows,
        tag_rows,
        time.perf_counter() - started,
    )
    return BuildInfo(build_id, chosen, cost_rows, tag_rows)


def build_id_of(path: Path) -> str | None:
    """The build id a warehouse file records; None when there is no file or it records none."""
    if not path.exists():
        return None
    con = _connect(path, read_only=True)
    try:
        found = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = 'build'",
            [META_SCHEMA],
        ).fetchall()
        if found[0][0] == 0:
            return None
        rows = con.execute(f"select build_id from {META_SCHEMA}.build").fetchall()
        return rows[0][0] if len(rows) == 1 else None
    finally:
        con.close()


def release_warehouse(settings: Settings, build_id: str) -> None:
    """Make the candidate warehouse of `build_id` the live one (an atomic rename)."""
    if _on_server(settings):
        from billflow.warehouse import redshift

        redshift.release(settings, build_id)
        return
    candidate, live = settings.warehouse_candidate_path, settings.warehouse_path
    found = build_id_of(candidate)
    if found != build_id:
        raise WarehouseBuildError(f"{candidate} holds build {found!r}, not {build_id!r}: nothing to release")
    con = _connect(candidate)
    try:
        con.execute("checkpoint")  # everything in the main file: the rename must not leave a .wal behind
    finally:
        con.close()
    live.parent.mkdir(parents=True, exist_ok=True)
    os.replace(candidate, live)
    Path(str(live) + ".wal").unlink(missing_ok=True)
    Path(str(candidate) + ".wal").unlink(missing_ok=True)
    log.info("warehouse %s is now build %s", live, build_id)


def complete_warehouse_release(settings: Settings, release_id: str | None) -> str:
    """After a crash: when the latest committed release's warehouse is still the candidate, release it.

    Returns what it found: 'current' (the live warehouse is that release's), 'completed' (it was swapped in
    now) or 'stale' (neither file holds it: the next load rebuilds it)."""
    if release_id is None:
        return "current"
    if live_build_id(settings) == release_id:
        return "current"
    if candidate_build_id(settings) == release_id:
        release_warehouse(settings, release_id)
        log.warning("completed the warehouse release of %s (interrupted after its commit)", release_id)
        return "completed"
    return "stale"


def discard_warehouse_build(settings: Settings, keep_build_id: str | None = None) -> bool:
    """Delete a candidate warehouse left by a failed run (never the one of `keep_build_id`)."""
    if _on_server(settings):
        from billflow.warehouse import redshift

        return redshift.discard(settings, keep_build_id)
    path = settings.warehouse_candidate_path
    if not path.exists() or (keep_build_id is not None and build_id_of(path) == keep_build_id):
        return False
    _remove_file(path)
    log.info("discarded the candidate warehouse %s", path)
    return True


def live_warehouse_versions(settings: Settings) -> list[tuple[str, str, str]]:
    """(payer, YYYY-MM, version id) of every staged version the live warehouse was built from."""
    if _on_server(settings):
        from billflow.warehouse import redshift

        return redshift.live_versions(settings)
    if not settings.warehouse_path.exists():
        return []
    con = _connect(settings.warehouse_path, read_only=True)
    try:
        rows = con.execute(
            f"select payer_account_id, strftime(billing_period, '%Y-%m'), version_id "
            f"from {META_SCHEMA}.build_versions order by all"
        ).fetchall()
    finally:
        con.close()
    return [tuple(row) for row in rows]


def live_build_id(settings: Settings) -> str | None:
    """The build id of the live warehouse (None: no warehouse, or one that records none)."""
    if _on_server(settings):
        from billflow.warehouse import redshift

        return redshift.build_id(settings)
    return build_id_of(settings.warehouse_path)


def candidate_build_id(settings: Settings) -> str | None:
    if _on_server(settings):
        from billflow.warehouse import redshift

        return redshift.build_id(settings, redshift.CANDIDATE_SUFFIX)
    return build_id_of(settings.warehouse_candidate_path)


def candidate_schema_suffix(settings: Settings) -> str:
    """What the candidate's schema names carry (none in a DuckDB candidate file: it has the live names)."""
    if _on_server(settings):
        from billflow.warehouse.redshift import CANDIDATE_SUFFIX

        return CANDIDATE_SUFFIX
    return ""


def candidate_database(settings: Settings) -> Database:
    """Read access to the candidate warehouse (its schemas carry candidate_schema_suffix)."""
    if _on_server(settings):
        from billflow.engines.factory import warehouse_database

        return warehouse_database(settings)
    from billflow.engines.duckdb_database import DuckDBDatabase

    return DuckDBDatabase(settings.warehouse_candidate_path, read_only=True)

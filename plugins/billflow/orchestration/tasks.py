"""TaskFlow tasks of the billflow DAGs. DAG files only wire them.

Heavy modules (duckdb, pyarrow, great_expectations) are imported inside the task bodies so that
parsing a DAG file stays fast.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from typing import Any

from airflow.sdk import AssetAlias, PokeReturnValue, get_current_context, task

from billflow.orchestration.assets import PUBLISHED_PERIODS_ALIAS

log = logging.getLogger(__name__)

DUCKDB_POOL = "billflow_duckdb"  # one writer at a time on the embedded DuckDB files
STAGING_POOL = "billflow_staging"  # bounds parallel staging queries

DEFAULT_ARGS = {
    "retries": int(os.environ.get("BILLFLOW_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=5),
}


def _settings():
    from billflow.config import load_settings

    return load_settings()


@task(pool=DUCKDB_POOL)
def prepare_control_tables() -> None:
    """Create the serving database's control tables when they are missing (idempotent DDL)."""
    from billflow.control.schema import ensure_control_tables
    from billflow.engines.factory import serving_database

    db = serving_database(_settings())
    try:
        ensure_control_tables(db)
    finally:
        db.close()


@task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule", soft_fail=True, pool=DUCKDB_POOL)
def sense_new_deliveries() -> PokeReturnValue:
    """Done when the landing zone holds a complete delivery whose manifest the ledger has not loaded.

    With the run parameter force_reload, every complete delivery is loaded again (same marts).
    """
    from billflow.control.ledger import new_deliveries
    from billflow.engines.factory import landing_store, serving_database
    from billflow.formats.discovery import discover_deliveries

    settings = _settings()
    force_reload = bool(get_current_context()["params"].get("force_reload", False))
    found = discover_deliveries(landing_store(settings), report_names=settings.report_names)
    for rejection in found.rejected:
        log.warning("rejected: %s", rejection.reason)
    db = serving_database(settings)
    try:
        todo = found.deliveries if force_reload else new_deliveries(db, found.deliveries)
    finally:
        db.close()
    log.info(
        "%d complete deliveries, %d waiting for data files, %d rejected, %d to load",
        len(found.deliveries),
        len(found.waiting),
        len(found.rejected),
        len(todo),
    )
    for delivery in todo:
        log.info("to load: payer %s period %s manifest %s", *delivery.partition, delivery.manifest_id)
    return PokeReturnValue(is_done=bool(todo), xcom_value=[d.to_dict() for d in todo])


@task(pool=STAGING_POOL, map_index_template="{{ partition_label }}")
def stage(delivery: dict[str, Any]) -> dict[str, Any]:
    """Stage one delivery into a candidate partition (the live partition is untouched)."""
    get_current_context()["partition_label"] = f"{delivery['payer_account_id']} {delivery['billing_period'][:7]}"
    from billflow.config import allocation_tag_keys
    from billflow.engines.factory import landing_store, query_engine, staged_store
    from billflow.formats.manifest import Delivery
    from billflow.staging.stage import stage_delivery

    settings = _settings()
    parsed = Delivery.from_dict(delivery)
    engine = query_engine(settings)
    try:
        result = stage_delivery(
            parsed, landing_store(settings), staged_store(settings), engine, tag_keys=allocation_tag_keys()
        )
    finally:
        engine.close()
    return {"delivery": delivery, "candidate_prefix": result.candidate_prefix, "raw_rows": result.raw_rows}


@task
def gate(staged: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations gate: the candidate must reconcile with its raw lines, or the group fails."""
    from datetime import date as date_type

    from billflow.config import allocation_tag_keys
    from billflow.engines.factory import staged_store
    from billflow.quality.gate import enforce_gate
    from billflow.staging.stage import raw_unblended_total, read_candidate, read_candidate_tags

    delivery, store = staged["delivery"], staged_store(_settings())
    candidate, raw_totals = read_candidate(store, staged["candidate_prefix"])
    result = enforce_gate(
        candidate,
        raw_totals,
        payer_account_id=delivery["payer_account_id"],
        billing_period=date_type.fromisoformat(delivery["billing_period"]),
        tag_costs=read_candidate_tags(store, staged["candidate_prefix"]),
        tag_keys=allocation_tag_keys(),
    )
    log.info("gate passed: %d checks", result.checks)
    return {**staged, "unblended_cost": str(raw_unblended_total(raw_totals))}


@task
def promote(checked: dict[str, Any]) -> dict[str, Any]:
    """Replace the live staged partition with the checked candidate."""
    from billflow.engines.factory import staged_store
    from billflow.formats.manifest import Delivery
    from billflow.staging.stage import promote_candidate

    target = promote_candidate(
        staged_store(_settings()), Delivery.from_dict(checked["delivery"]), checked["candidate_prefix"]
    )
    log.info("partition %s replaced", target)
    return checked


@task(pool=DUCKDB_POOL)
def publish_to_serving() -> list[str]:
    """Copy the warehouse marts into the serving database (checked to the cent)."""
    from billflow.engines.factory import serving_database, warehouse_database
    from billflow.serving.publish import publish_marts

    settings = _settings()
    warehouse, serving = warehouse_database(settings), serving_database(settings)
    try:
        return publish_marts(warehouse, serving).billing_periods
    finally:
        warehouse.close()
        serving.close()


@task(pool=DUCKDB_POOL)
def export_focus() -> list[str]:
    """Write the FOCUS 1.2 mart as one Parquet file per billing period to BILLFLOW_EXPORT_URI."""
    from billflow.engines.factory import warehouse_database
    from billflow.serving.focus_export import export_focus as write_focus
    from billflow.serving.focus_export import export_store

    settings = _settings()
    warehouse = warehouse_database(settings)
    try:
        written = write_focus(warehouse, export_store(settings))
    finally:
        warehouse.close()
    return [item.uri for item in written]


@task(pool=DUCKDB_POOL, outlets=[AssetAlias(PUBLISHED_PERIODS_ALIAS)])
def record_loads(loaded: list[dict[str, Any]]) -> list[str]:
    """Write the loaded manifests to the ledger and emit one Asset event per published billing period."""
    from decimal import Decimal

    from airflow.sdk import Asset

    from billflow.control.ledger import LedgerEntry
    from billflow.control.ledger import record_loads as write_ledger
    from billflow.engines.factory import serving_database
    from billflow.formats.manifest import Delivery
    from billflow.orchestration.assets import published_period_uri

    entries = [
        LedgerEntry(Delivery.from_dict(item["delivery"]), int(item["raw_rows"]), Decimal(item["unblended_cost"]))
        for item in loaded
    ]
    db = serving_database(_settings())
    try:
        write_ledger(db, entries)
    finally:
        db.close()
    periods = sorted({entry.delivery.period_label for entry in entries})
    outlet_events = get_current_context()["outlet_events"]
    for period in periods:
        outlet_events[AssetAlias(PUBLISHED_PERIODS_ALIAS)].add(
            Asset(published_period_uri(period), group="billflow"), extra={"billing_period": period}
        )
    return periods


@task(pool=DUCKDB_POOL)
def lock_final_invoices() -> list[str]:
    """Freeze every final invoice of a finished month; locked invoices never change."""
    from billflow.billing.close import lock_final_invoices as lock
    from billflow.engines.factory import serving_database

    context = get_current_context()
    as_of = _as_of_date(context)
    db = serving_database(_settings())
    try:
        locked = lock(db, as_of)
    finally:
        db.close()
    return [f"{item.invoice_number} {item.customer_id} {item.billing_period:%Y-%m}" for item in locked]


def _as_of_date(context: Any) -> date:
    """The close runs as of the end of its data interval (today for manual and asset-triggered runs)."""
    end = context.get("data_interval_end") or context.get("logical_date")
    return end.date() if end is not None else date.today()

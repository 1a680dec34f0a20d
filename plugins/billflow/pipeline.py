"""The daily load and the monthly close in one process, without Airflow.

The DAGs run the same steps as separate tasks; this runner serves `billflow bench`, cron-style use of the
embedded mode, and tests that need whole loads quickly. It composes the same functions the tasks call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from billflow.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
StepRunner = Callable[[str, Callable[[], Any]], Any]


def run_step(label: str, step: Callable[[], T]) -> T:
    return step()


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)  # "payer YYYY-MM manifest"
    raw_rows: int = 0
    staged_rows: int = 0
    published_rows: dict[str, int] = field(default_factory=dict)
    billing_periods: list[str] = field(default_factory=list)


# dbt unit tests check the SQL, not the data: they run in CI (make test), not on every load
PRODUCTION_BUILD_FLAGS = ("--exclude-resource-type", "unit_test")


class DbtBuildFailed(RuntimeError):
    """A dbt model or test failed: nothing after it was built."""


def dbt_build(settings: Settings, tag: str, target: str, target_path: Path | None = None) -> None:
    from dbt.cli.main import dbtRunner

    args = ["build", "--select", f"tag:{tag}", "--target", target, "--quiet", *PRODUCTION_BUILD_FLAGS]
    args += ["--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_profiles_dir)]
    args += ["--target-path", str(target_path or settings.home / "dbt-target")]
    result = dbtRunner().invoke(args)
    if not result.success:
        failed = [
            f"{r.node.name}: {r.status} {r.message or ''}".strip()
            for r in (result.result or [])
            if str(r.status) not in ("success", "pass", "skipped")
        ]
        raise DbtBuildFailed(f"dbt build of {tag} on {target} failed: {failed or result.exception}")


def run_daily_load(settings: Settings, *, force_reload: bool = False, step: StepRunner = run_step) -> LoadReport:
    """Stage, gate and promote every new delivery, then build, publish and serve; record the ledger."""
    from billflow.config import allocation_tag_keys
    from billflow.control.ledger import LedgerEntry, new_deliveries, record_loads
    from billflow.control.schema import ensure_control_tables
    from billflow.engines.factory import landing_store, query_engine, serving_database, staged_store, warehouse_database
    from billflow.formats.discovery import discover_deliveries
    from billflow.quality.gate import enforce_gate
    from billflow.serving.publish import publish_marts
    from billflow.staging.stage import (
        promote_candidate,
        raw_unblended_total,
        read_candidate,
        read_candidate_tags,
        stage_delivery,
    )

    landing, staged = landing_store(settings), staged_store(settings)
    serving = serving_database(settings)
    try:
        ensure_control_tables(serving)
        found = step("discover", lambda: discover_deliveries(landing, report_names=settings.report_names))
        for rejection in found.rejected:
            log.warning("rejected: %s", rejection.reason)
        todo = found.deliveries if force_reload else new_deliveries(serving, found.deliveries)
    finally:
        serving.close()
    report, entries, tag_keys = LoadReport(), [], allocation_tag_keys()
    if not todo:
        return report
    for delivery in todo:
        label = f"{delivery.payer_account_id} {delivery.source_format}"
        engine = query_engine(settings)
        try:
            result = step(
                f"stage {label}", lambda d=delivery, e=engine: stage_delivery(d, landing, staged, e, tag_keys)
            )
        finally:
            engine.close()
        candidate, totals = read_candidate(staged, result.candidate_prefix)
        tags = read_candidate_tags(staged, result.candidate_prefix)
        step(
            f"gate {label}",
            lambda c=candidate, t=totals, g=tags, d=delivery: enforce_gate(
                c,
                t,
                payer_account_id=d.payer_account_id,
                billing_period=d.billing_period,
                tag_costs=g,
                tag_keys=tag_keys,
            ),
        )
        step(f"promote {label}", lambda d=delivery, r=result: promote_candidate(staged, d, r.candidate_prefix))
        report.raw_rows += result.raw_rows
        report.staged_rows += result.staged_rows
        report.loaded.append(f"{delivery.payer_account_id} {delivery.period_label} {delivery.manifest_id}")
        entries.append(LedgerEntry(delivery, result.raw_rows, raw_unblended_total(totals)))
    step("dbt build warehouse", lambda: dbt_build(settings, "warehouse", "warehouse"))
    warehouse, serving = warehouse_database(settings), serving_database(settings)
    try:
        published = step("publish", lambda: publish_marts(warehouse, serving))
    finally:
        warehouse.close()
        serving.close()
    step("dbt build serving", lambda: dbt_build(settings, "serving", "serving"))
    serving = serving_database(settings)
    try:
        record_loads(serving, entries)
    finally:
        serving.close()
    report.published_rows, report.billing_periods = published.rows, published.billing_periods
    return report


def run_monthly_close(settings: Settings, as_of: date, *, step: StepRunner = run_step) -> list[str]:
    """Lock the final invoices of finished months, then rebuild the serving models."""
    from billflow.billing.close import lock_final_invoices
    from billflow.engines.factory import serving_database

    serving = serving_database(settings)
    try:
        locked = step("lock final invoices", lambda: lock_final_invoices(serving, as_of))
    finally:
        serving.close()
    step("dbt build serving", lambda: dbt_build(settings, "serving", "serving"))
    return [f"{item.invoice_number} {item.customer_id} {item.billing_period:%Y-%m}" for item in locked]

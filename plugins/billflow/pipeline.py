"""The daily load and the monthly close in one process, without Airflow.

The DAGs run the same steps (billflow.orchestration.steps) as separate tasks; this runner serves
`billflow bench`, cron-style use of the embedded mode, and tests that need whole loads quickly. It takes
the same run lock as the DAGs, so it never runs beside a DAG run or another runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from billflow.config import Settings

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
    release_id: str | None = None
    not_loaded: list[str] = field(default_factory=list)  # "payer YYYY-MM: reason" of failed partitions


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


def _run_id() -> str:
    import os
    import socket
    from datetime import UTC, datetime

    return f"process:{socket.gethostname()}:{os.getpid()}:{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z"


def run_daily_load(settings: Settings, *, force_reload: bool = False, step: StepRunner = run_step) -> LoadReport:
    """The daily load: sense, then under the run lock stage and gate each delivery, build and test the
    candidate warehouse and serving shadow, release, and report what was not loaded (raises
    DeliveriesNotLoaded after releasing the good partitions when a delivery needs a person)."""
    from billflow.control.runlock import Holder
    from billflow.orchestration import steps

    report = LoadReport()
    sensed = step("sense", lambda: steps.sense(settings, force_reload=force_reload))
    if not sensed.needs_run:
        return report
    holder = Holder.this_process()
    step("begin run", lambda: steps.start_run(settings, holder))
    failed: BaseException | None = None
    try:
        candidates = []
        for delivery in sensed.to_load:
            label = f"{delivery.payer_account_id} {delivery.period_label}"
            try:
                staged = step(f"stage {label}", lambda d=delivery: steps.stage_partition(settings, d))
                candidates.append(step(f"gate {label}", lambda c=staged: steps.gate_partition(settings, c)))
            except steps.StepFailed as exc:
                report.not_loaded.append(str(exc))
        plan = steps.plan_release(settings, candidates, steps.warehouse_is_stale(settings))
        if plan is not None:
            step("prepare warehouse", lambda: steps.prepare_warehouse(settings, plan))
            step("dbt build warehouse", lambda: dbt_build(settings, "warehouse", "warehouse"))
            published = step("publish", lambda: steps.publish(settings))
            step("dbt build serving", lambda: dbt_build(settings, "serving", "serving"))
            report.billing_periods = step("release", lambda: steps.release(settings, plan, _run_id(), holder))
            step("export focus", lambda: steps.export_focus(settings))
            report.release_id, report.published_rows = plan.release_id, published.rows
            for candidate in plan.candidates:
                report.raw_rows += candidate.raw_rows
                report.staged_rows += candidate.staged_rows
                report.loaded.append(f"{candidate.label} {candidate.delivery.manifest_id}")
    except BaseException as exc:
        failed = exc
        raise
    finally:
        try:
            steps.remove_unreleased(settings)
            steps.report_deliveries(settings, sensed, fail=failed is None)
        finally:
            steps.end_run(settings, holder)
    return report


def run_monthly_close(settings: Settings, as_of: date, *, step: StepRunner = run_step) -> list[str]:
    """Build and test the serving models, lock the final invoices of finished months from them, build and
    test again, release. Raises InvoicesNotLocked (after the release) when invoices due stayed unlocked."""
    from billflow.control.runlock import Holder
    from billflow.orchestration import steps

    holder = Holder.this_process()
    step("begin run", lambda: steps.start_run(settings, holder))
    try:
        step("prepare serving", lambda: steps.prepare_serving_rebuild(settings))
        step("dbt build serving", lambda: dbt_build(settings, "serving", "serving"))
        result = step("lock final invoices", lambda: steps.lock_invoices(settings, as_of, holder))
        step("dbt build serving", lambda: dbt_build(settings, "serving", "serving"))
        step("release serving", lambda: steps.release_serving(settings, _run_id(), holder))
    finally:
        steps.end_run(settings, holder)
    return steps.report_close(settings, result)

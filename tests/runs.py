"""The DAG runs the tests make: the DAGs themselves through billflow.orchestration.runner (dag.test() in
the test process), and what a run loaded or locked, read from its tasks' return values."""

from __future__ import annotations

from datetime import date

from billflow.orchestration.runner import DagRunFailed, DagRunOutcome, run_daily_load, run_monthly_close

__all__ = ["DagRunFailed", "DagRunOutcome", "close", "load", "loaded"]


def load(*, force_reload: bool = False) -> DagRunOutcome:
    """One run of cur_daily_load; raises DagRunFailed (with the outcome) when a task fails."""
    return run_daily_load(force_reload=force_reload)


def close(as_of: date) -> list[str]:
    """One run of cur_monthly_close as of that day (its as_of parameter); returns finish_close's lines: the
    invoices it locked ("locked <number> <customer> <period>") and the unassigned cost it reported."""
    return run_monthly_close(as_of=as_of).returns["finish_close"]


def loaded(outcome: DagRunOutcome) -> list[str]:
    """The partitions a load released, as "payer YYYY-MM manifest_id"."""
    if "release" not in outcome.returns:
        return []
    return [
        f"{c['delivery']['payer_account_id']} {c['delivery']['billing_period'][:7]} {c['delivery']['manifest_id']}"
        for c in outcome.returns["plan_release"]["candidates"]
    ]

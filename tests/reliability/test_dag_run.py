"""One run of the daily DAG (dag.test, the tasks the scheduler runs) with a good payer and a bad one: the good
payer's data goes live, the bad payer's gate task fails with the reason in its log, and the run is failed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from billflow.rules import project_with_rules
from tests.conftest import reused_home
from tests.reliability.conftest import RULES, use_home
from tests.reliability.deliveries import PAYER_1, PAYER_2, land_cur2, land_legacy, raw_lines, where, with_values
from tests.reliability.state import query

pytestmark = pytest.mark.e2e


def test_a_bad_payer_fails_its_gate_and_the_run_while_the_good_payer_goes_live(
    tmp_path_factory, monkeypatch, airflow_db, capfd
):
    from airflow.dag_processing.dagbag import DagBag

    home = reused_home(tmp_path_factory)
    project_with_rules(RULES, home / "dbt_project")
    use_home(monkeypatch, home)
    land_legacy(home / "landing", raw_lines(PAYER_1, "legacy"), "assembly-1")
    bad = raw_lines(PAYER_2, "cur2")
    starts = bad.column("line_item_usage_start_date").to_pylist()
    starts[where(bad, "Usage")[0]] = starts[0].replace(month=10, day=3)
    manifest = land_cur2(home / "landing", with_values(bad, "line_item_usage_start_date", starts), "execution-1")
    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "cur_daily_load.py")).dags[
        "cur_daily_load"
    ]

    dagrun = dag.test(logical_date=datetime(2026, 11, 25, tzinfo=UTC))

    states: dict[tuple[str, int], str] = {
        (ti.task_id, ti.map_index): str(ti.state) for ti in dagrun.get_task_instances()
    }
    assert str(dagrun.state) == "failed"
    gates = {
        ti.rendered_map_index: str(ti.state)
        for ti in dagrun.get_task_instances()
        if ti.task_id == "stage_partition.gate"
    }
    assert gates == {f"{PAYER_1} 2026-09": "success", f"{PAYER_2} 2026-09": "failed"}
    assert states[("release", -1)] == "success"
    assert states[("finish_load", -1)] == "failed"
    assert query(home, "select payer_account_id, manifest_id from billing_control.staged_versions") == [
        (PAYER_1, "assembly-1")
    ]
    assert query(home, "select distinct payer_account_id from billing.daily_costs") == [(PAYER_1,)]
    # payer 1's twelve lines, 119.33 unblended by hand from tests/rawcur.py, and nothing of payer 2
    assert query(home, "select sum(unblended_cost), sum(line_item_count) from billing.daily_costs") == [
        (Decimal("119.3300000000"), 12)
    ]
    reason = (
        f"staging gate failed for payer {PAYER_2}, period 2026-09: 1 failures in 45 checks:\n"
        "  - 1 row with usage_date outside 2026-09-01..2026-09-30 (e.g. 2026-10-03)"
    )
    assert query(home, "select stage, manifest_key, reason from billing_control.delivery_rejections") == [
        ("gate", manifest, reason)
    ]
    log = capfd.readouterr()
    assert f"[gate] {manifest} (payer {PAYER_2}, 2026-09): {reason}" in log.out + log.err

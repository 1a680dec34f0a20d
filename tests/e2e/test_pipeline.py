"""End to end on the embedded default: generated CUR -> both DAGs (dag.test, billflow.orchestration.runner)
-> invoices in serving."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billflow.config import DBT_PROJECT_DIR
from billflow.orchestration.runner import run_daily_load, run_monthly_close
from billflow.rules import project_with_rules
from billflow.storage.local import LocalStore
from billflow_dev.generator import generate_cur
from tests.conftest import reused_home
from tests.e2e.independent import expected_invoices

pytestmark = pytest.mark.e2e

PERIOD = "2026-09"


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """`home` as BILLFLOW_HOME, with the project's own rules in a dbt project at the home (as every home of
    the tests: dbt reuses the parse of the tests before)."""
    monkeypatch.setenv("BILLFLOW_HOME", str(home))
    for name in ("LANDING_URI", "STAGED_URI", "WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    project = home / "dbt_project"
    if not project.exists():
        project_with_rules(DBT_PROJECT_DIR / "rules", project)
    monkeypatch.setenv("BILLFLOW_DBT_PROJECT_DIR", str(project))
    return home


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, airflow_db):
    """A generated final month of two payers loaded by one run of the daily DAG, and that run's outcome: the
    original each test copies (one full load for the module instead of one per test)."""
    home, original = reused_home(tmp_path_factory), tmp_path_factory.mktemp("loaded")
    with pytest.MonkeyPatch.context() as patch:
        use_home(patch, home)
        generate(home, final=True)
        outcome = run_daily_load()
    shutil.copytree(home, original, ignore=shutil.ignore_patterns("dbt-target", "dbt_project"), dirs_exist_ok=True)
    return original, outcome


@pytest.fixture
def home(loaded, tmp_path_factory, monkeypatch):
    """A copy of the loaded month for one test (at the worker's reused home path)."""
    copy = reused_home(tmp_path_factory)
    shutil.copytree(loaded[0], copy, dirs_exist_ok=True)
    return use_home(monkeypatch, copy)


@pytest.fixture
def empty_home(tmp_path_factory, monkeypatch, airflow_db):
    return use_home(monkeypatch, reused_home(tmp_path_factory))


def generate(home: Path, **options):
    settings = {"period": PERIOD, "payers": 2, "accounts": 4, "days": None, "rows": 3000, "seed": 11, "fmt": "mixed"}
    settings.update(options)
    return generate_cur(home / "landing", **settings)


def task_states(outcome) -> dict[str, str]:
    """Task id -> its state (the states of a mapped task's instances joined)."""
    states: dict[str, set[str]] = {}
    for task in outcome.tasks:
        states.setdefault(task.task_id, set()).add(task.state)
    return {task_id: ",".join(sorted(s)) for task_id, s in states.items()}


def asset_events_of(outcome, prefix: str = "billflow://serving/") -> dict[str, dict]:
    """The billflow Asset events a run emitted under `prefix` (uri -> extra)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == outcome.run_id).all()
        return {event.asset.uri: event.extra for event in events if event.asset.uri.startswith(prefix)}


def serving_rows(home: Path, sql: str):
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def invoice_totals(home: Path) -> dict[tuple[str, str], Decimal]:
    rows = serving_rows(
        home, "select customer_id, strftime(billing_period, '%Y-%m'), total_amount from billing.invoices"
    )
    return {(customer, period): total for customer, period, total in rows}


def snapshot(home: Path) -> dict[str, list]:
    return {
        table: serving_rows(home, f"select * from billing.{table} order by all")
        for table in ("invoices", "invoice_lines", "daily_costs")
    }


def test_each_customers_invoice_equals_the_total_computed_from_the_raw_parquet(loaded, home):
    dagrun = loaded[1]

    assert dagrun.state == "success", task_states(dagrun)
    expected = expected_invoices(home / "landing")
    assert invoice_totals(home) == expected
    assert {customer for customer, _ in expected} >= {"acme", "globex", "initech", "umbrella", "unassigned"}
    assert serving_rows(home, "select distinct status from billing.invoices") == [("provisional",)]
    ledger = serving_rows(home, "select payer_account_id, source_format from billing_control.load_ledger order by 1")
    assert ledger == [("111111111111", "legacy"), ("222222222222", "cur2")]
    assert asset_events_of(dagrun) == {f"billflow://serving/invoices/{PERIOD}": {"billing_period": PERIOD}}
    # model-level visibility: every dbt model of both builds has an Asset event of this run, with its status
    built = asset_events_of(dagrun, "billflow://dbt/")
    for build in ("warehouse", "serving"):
        models = sorted(path.stem for path in (DBT_PROJECT_DIR / "models" / build).rglob("*.sql"))
        events = {uri.rsplit("/", 1)[1]: extra for uri, extra in built.items() if f"/dbt/{build}/model/" in uri}
        assert sorted(events) == models
        assert {extra["status"] for extra in events.values()} == {"success"}
        assert all(extra["seconds"] >= 0 for extra in events.values())

    close = run_monthly_close()

    assert close.state == "success", task_states(close)
    invoices = serving_rows(
        home, "select customer_id, status, invoice_number, total_amount from billing.invoices order by customer_id"
    )
    customers = [customer for customer, _, _, _ in invoices]
    assert customers == ["acme", "globex", "initech", "umbrella", "unassigned"]
    # every customer's invoice is locked and numbered; the unassigned accounts' cost is never invoiced
    assert [(status, number) for _, status, number, _ in invoices] == [
        ("final", f"BF-202609-{i:04d}") for i in range(1, 5)
    ] + [("provisional", None)]
    assert {(c, PERIOD): total for c, _, _, total in invoices} == expected


def test_running_the_load_twice_gives_identical_marts(home):
    first = snapshot(home)

    run_daily_load(force_reload=True)

    assert snapshot(home) == first


def test_a_redelivered_month_replaces_its_partition_without_double_counting(home):
    before = invoice_totals(home)

    generate(home, final=True, redeliver=True)
    dagrun = run_daily_load()

    assert dagrun.state == "success", task_states(dagrun)
    after = invoice_totals(home)
    assert after == expected_invoices(home / "landing")
    assert after != before
    manifests = serving_rows(home, "select count(distinct manifest_id) from billing_control.load_ledger")
    assert manifests == [(4,)]  # two payers, each loaded twice: both snapshots are in the ledger


def test_partitions_that_do_not_reconcile_are_deleted_nothing_goes_live_and_the_run_fails_naming_them(
    empty_home, monkeypatch
):
    home = empty_home
    from billflow.staging import stage

    render = stage.render_stage_sql
    monkeypatch.setattr(
        stage, "render_stage_sql", lambda *a: f"select * from ({render(*a)}) where line_item_type <> 'Tax'"
    )
    generate(home)

    dagrun = run_daily_load(check=False)

    states = task_states(dagrun)
    assert dagrun.state == "failed"
    assert states["stage_partition.gate"] == "failed"
    assert states["plan_release"] == "skipped"  # nothing passed its gate: nothing to build
    dbt_states = {state for task_id, state in states.items() if task_id.startswith("dbt_")}
    assert dbt_states == {"skipped"}
    assert (states["publish_to_serving"], states["release"]) == ("skipped", "skipped")
    assert states["finish_load"] == "failed"
    assert LocalStore(home / "staged").list_keys() == []  # the failed versions are deleted
    assert serving_rows(home, "select count(*) from billing_control.load_ledger") == [(0,)]
    live = serving_rows(
        home, "select count(*) from information_schema.tables where table_schema in ('published', 'billing')"
    )
    assert live == [(0,)]
    rejections = serving_rows(
        home,
        "select payer_account_id, stage, reason from billing_control.delivery_rejections "
        "where resolved_at is null order by 1",
    )
    assert [(payer, stage) for payer, stage, _ in rejections] == [("111111111111", "gate"), ("222222222222", "gate")]
    assert all(
        "line item type Tax: in raw" in reason and "but missing from staged" in reason for *_, reason in rejections
    )

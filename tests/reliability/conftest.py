"""A loaded and closed month to damage: both payers' final September loaded and its invoices locked, once
per session, by the in-process runner (the DAG's steps), then copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from billflow.rules import project_with_rules
from tests.conftest import reused_home
from tests.reliability.deliveries import land_both

RULES = Path(__file__).resolve().parents[1] / "integration" / "rules"


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("BILLFLOW_HOME", str(home))
    for name in ("LANDING_URI", "STAGED_URI", "WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID", "REPORT_NAMES"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    monkeypatch.setenv("BILLFLOW_DBT_PROJECT_DIR", str(home / "dbt_project"))


@pytest.fixture(scope="session")
def loaded_month(tmp_path_factory, airflow_db, worker_id) -> Path:
    """A home where September of both payers is loaded and its invoices are locked (the original of every
    test's copy: a failed run must leave the locked invoices as they are, too). Built once per test session:
    under xdist, the first worker to need it builds it in the folder the workers share while the others wait
    on the lock, then every worker copies it."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    home = shared / "loaded-month"
    with FileLock(str(shared / "loaded-month.lock")):
        if not (home / ".built").exists():
            shutil.rmtree(home, ignore_errors=True)  # a build a failed worker left half done
            build_loaded_month(home)
            (home / ".built").touch()
    return home


def build_loaded_month(home: Path) -> None:
    from datetime import date

    from tests.runs import close, load, loaded

    project_with_rules(RULES, home / "dbt_project")
    with pytest.MonkeyPatch.context() as patch:
        use_home(patch, home)
        land_both(home / "landing")
        report = load()
        locked = close(as_of=date(2026, 10, 15))
    assert len(loaded(report)) == 2, report
    assert [line.split()[2] for line in locked] == ["acme", "initech", "umbrella"], locked


def use_copy_of(loaded_month: Path, copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy the loaded month to `copy` (the dbt project's links are recreated) and make it the home."""
    shutil.copytree(
        loaded_month, copy, ignore=shutil.ignore_patterns("dbt_project", "dbt-target", ".built"), dirs_exist_ok=True
    )
    project_with_rules(RULES, copy / "dbt_project")
    use_home(monkeypatch, copy)
    return copy


@pytest.fixture
def home(loaded_month, tmp_path_factory, monkeypatch) -> Path:
    """A copy of the loaded month for one test (at the worker's reused home path)."""
    return use_copy_of(loaded_month, reused_home(tmp_path_factory), monkeypatch)

"""A load killed at any point, then run again, gives the marts a clean run gives; two loads at once give
one clear error. The killed loads are DAG runs in a child process killed with SIGKILL
(tests/reliability/crash.py): no finally block, no cleanup, as when a worker dies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from billflow.rules import project_with_rules
from tests.conftest import ROOT
from tests.reliability.conftest import RULES, use_home
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines, scaled
from tests.reliability.state import leftovers, marts_only, state
from tests.runs import DagRunFailed, load, loaded

PYTHONPATH = os.pathsep.join(str(path) for path in (ROOT / "plugins", ROOT / "tools", ROOT))


def run_killed(point: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash", point],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == -signal.SIGKILL, (
        f"{point}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def restated(landing: Path) -> None:
    land_legacy(landing, scaled(raw_lines(PAYER_1, "legacy"), "2"), "assembly-2")


@pytest.fixture
def clean_run(loaded_month, tmp_path_factory, monkeypatch) -> Path:
    """The same restatement loaded by a run nobody killed."""
    home = tmp_path_factory.mktemp("clean") / "home"
    shutil.copytree(loaded_month, home, ignore=shutil.ignore_patterns("dbt_project", "dbt-target"))
    project_with_rules(RULES, home / "dbt_project")
    use_home(monkeypatch, home)
    restated(home / "landing")
    load()
    return home


def test_a_load_killed_while_staging_building_publishing_or_releasing_then_rerun_equals_a_clean_run(
    home, clean_run, monkeypatch
):
    use_home(monkeypatch, home)
    restated(home / "landing")
    before = state(home)

    for point in ("staging", "dbt", "publish"):
        run_killed(point)
        assert state(home) == before, f"killed while {point}: what is live changed"

    run_killed("release")  # committed: the serving tables are the release's, the warehouse is renamed later
    assert state(home)["billing"] == state(clean_run)["billing"]
    assert state(home)["marts"] == before["marts"]

    report = load()  # completes the release, nothing left to load

    assert loaded(report) == []
    assert marts_only(home) == marts_only(clean_run)
    assert leftovers(home) == []  # no unreleased version, no candidate warehouse
    # the killed runs' versions are gone: the live ones and the replaced one kept for audit remain
    assert (
        stored_deliveries(home)
        == stored_deliveries(clean_run)
        == [
            (PAYER_1, "assembly-1"),
            (PAYER_1, "assembly-2"),
            ("222222222222", "execution-1"),
        ]
    )


def stored_deliveries(home: Path) -> list[tuple[str, str]]:
    from billflow.staging.versions import stored_versions
    from billflow.storage.local import LocalStore

    return sorted((v.payer_account_id, v.manifest_id) for v in stored_versions(LocalStore(home / "staged")))


def test_a_close_started_while_a_load_runs_fails_with_one_clear_another_load_is_running_error(home, monkeypatch):
    """The scheduler runs one daily load at a time (max_active_runs); the close is another DAG: it must not
    start while a load holds the run lock, and the load goes on undisturbed."""
    use_home(monkeypatch, home)
    restated(home / "landing")
    slow = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # the DAG run logs to stdout too: wait for the line the paused staging step prints
        assert any(line.strip() == "staging" for line in slow.stdout)  # the load holds the run lock now
        with pytest.raises(DagRunFailed) as refused:
            close_now()
    finally:
        slow.communicate("go on\n", timeout=900)  # let the load finish

    errors = refused.value.outcome.errors
    assert sorted(errors) == ["begin_close", "finish_close"]
    assert errors["begin_close"].startswith("another load is running: the run lock is held by dag:cur_daily_load:")
    assert errors["begin_close"].endswith("; wait for it to finish")
    assert errors["finish_close"] == "the close did not start: begin_close failed (see its log)"
    assert slow.returncode == 0
    assert loaded(load()) == []  # the load loaded the restatement


def close_now():
    from datetime import date

    from tests.runs import close

    return close(as_of=date(2026, 10, 20))


# a daily load (a DAG run) that pauses in its staging step until the test has tried the close (a line on stdin)
HOLD_THE_LOCK = """
import sys
from billflow.engines.duckdb_engine import DuckDBEngine
from tests.runs import load, loaded
copy, paused = DuckDBEngine.copy_to_parquet, []
def pause_once(self, *args):
    if not paused:
        paused.append(True)
        print("staging", flush=True)
        sys.stdin.readline()
    return copy(self, *args)
DuckDBEngine.copy_to_parquet = pause_once
assert loaded(load()) == ["111111111111 2026-09 assembly-2"]
"""

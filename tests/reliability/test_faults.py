"""A load killed at any point, then run again, gives the marts a clean run gives; two loads at once give
one clear error. The killed loads run in a child process killed with SIGKILL (tests/reliability/crash.py):
no finally block, no cleanup, as when a worker dies."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from billflow.config import load_settings
from billflow.control.runlock import AnotherRunIsActive
from billflow.pipeline import run_daily_load
from billflow.rules import project_with_rules

from tests.conftest import ROOT
from tests.reliability.conftest import RULES, use_home
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines, scaled
from tests.reliability.state import leftovers, marts_only, state


def run_killed(point: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash", point],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}"},
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
    run_daily_load(load_settings())
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

    report = run_daily_load(load_settings())  # completes the release, nothing left to load

    assert report.loaded == []
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


def test_two_loads_at_once_give_one_clear_another_load_is_running_error(home, monkeypatch):
    use_home(monkeypatch, home)
    restated(home / "landing")
    slow = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert slow.stdout.readline().strip() == "staging"  # the first load holds the run lock now
        with pytest.raises(AnotherRunIsActive) as refused:
            run_daily_load(load_settings())
    finally:
        slow.communicate("go on\n", timeout=900)  # let the first load finish

    assert str(refused.value).startswith(
        f"another load is running: the run lock is held by process:{socket.gethostname()}:{slow.pid} since "
    )
    assert str(refused.value).endswith("; wait for it to finish")
    assert slow.returncode == 0
    assert run_daily_load(load_settings()).loaded == []  # the first load loaded the restatement


# a load that pauses in its staging step until the test has tried a second load (a line on stdin)
HOLD_THE_LOCK = """
import sys
from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.config import load_settings
from billflow.pipeline import run_daily_load
copy, paused = DuckDBEngine.copy_to_parquet, []
def pause_once(self, *args):
    if not paused:
        paused.append(True)
        print("staging", flush=True)
        sys.stdin.readline()
    return copy(self, *args)
DuckDBEngine.copy_to_parquet = pause_once
assert run_daily_load(load_settings()).loaded == ["111111111111 2026-09 assembly-2"]
"""

"""A load killed at any point, then run again, gives the marts a clean run gives (a close beside a running
load: test_run_lock.py). The killed loads are DAG runs in a child process killed with SIGKILL
(forked by tests/reliability/crash.py): no finally block, no cleanup, as when a worker dies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, reused_home
from tests.reliability.conftest import use_copy_of, use_home
from tests.reliability.crash import RESULT
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines, scaled
from tests.reliability.state import leftovers, marts_only, state
from tests.runs import load, loaded

PYTHONPATH = os.pathsep.join(str(path) for path in (ROOT / "plugins", ROOT / "tools", ROOT))


class Crasher:
    """A process that runs daily loads killed at a chosen point (tests/reliability/crash.py), with the
    caller's environment."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": PYTHONPATH},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def kill_at(self, point: str) -> None:
        """A daily load killed at `point`: fails unless its process ended by SIGKILL."""
        self.process.stdin.write(point + "\n")
        self.process.stdin.flush()
        output = []
        for line in self.process.stdout:
            if RESULT in line:  # written in one piece, though other processes' output may precede it
                result = line[line.index(RESULT) :].split()
                assert result == [RESULT, point, str(-signal.SIGKILL)], f"{line}{''.join(output[-100:])}"
                return
            output.append(line)
        raise AssertionError(f"the crash process ended:\n{''.join(output[-100:])}")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def restated(landing: Path) -> None:
    land_legacy(landing, scaled(raw_lines(PAYER_1, "legacy"), "2"), "assembly-2")


@pytest.fixture
def clean_run(home, loaded_month, tmp_path_factory, monkeypatch) -> Path:
    """The same restatement loaded by a run nobody killed: run in the test's home (where dbt reuses the parse
    of the tests before), kept in a copy of its own, then the home is the loaded month again."""
    restated(home / "landing")
    load()
    kept = reused_home(tmp_path_factory, "clean-home")
    shutil.copytree(home, kept, ignore=shutil.ignore_patterns("dbt-target", "dbt_project"), dirs_exist_ok=True)
    use_copy_of(loaded_month, reused_home(tmp_path_factory), monkeypatch)
    return kept


def test_a_load_killed_while_staging_building_publishing_or_releasing_then_rerun_equals_a_clean_run(
    home, clean_run, monkeypatch
):
    use_home(monkeypatch, home)
    restated(home / "landing")
    before = state(home)

    crasher = Crasher()
    try:
        for point in ("staging", "dbt", "publish"):
            crasher.kill_at(point)
            assert state(home) == before, f"killed while {point}: what is live changed"

        crasher.kill_at("release")
    finally:
        crasher.close()  # committed: the serving tables are the release's, the warehouse is renamed later
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

"""A close started while a load runs fails with one clear error and the load goes on undisturbed. The load
is a DAG run in a child process, paused in its staging step until the test has tried the close."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.reliability.conftest import use_home
from tests.reliability.deliveries import PAYER_1, land_legacy, raw_lines, scaled
from tests.runs import DagRunFailed, load, loaded

PYTHONPATH = os.pathsep.join(str(path) for path in (ROOT / "plugins", ROOT / "tools", ROOT))


def test_a_close_started_while_a_load_runs_fails_with_one_clear_another_load_is_running_error(home, monkeypatch):
    """The scheduler runs one daily load at a time (max_active_runs); the close is another DAG: it must not
    start while a load holds the run lock, and the load goes on undisturbed."""
    use_home(monkeypatch, home)
    land_legacy(home / "landing", scaled(raw_lines(PAYER_1, "legacy"), "2"), "assembly-2")
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
write, paused = DuckDBEngine._copy, []
def pause_once(self, *args):
    if not paused:
        paused.append(True)
        print("staging", flush=True)
        sys.stdin.readline()
    return write(self, *args)
DuckDBEngine._copy = pause_once  # before the first staged file is written
assert loaded(load()) == ["111111111111 2026-09 assembly-2"]
"""

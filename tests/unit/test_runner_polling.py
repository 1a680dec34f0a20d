"""The in-process runner shortens dag.test()'s own waits between passes, and nobody else's sleeps."""

from __future__ import annotations

import time

from billflow.orchestration.runner import _polling_every


def waits(seconds: float) -> float:
    started = time.perf_counter()
    time.sleep(seconds)
    return time.perf_counter() - started


def test_the_pollers_sleeps_are_cut_to_the_interval_and_everyone_elses_stay_as_asked():
    real_sleep = time.sleep

    with _polling_every(0.01, poller=waits.__code__):
        cut = waits(0.5)
        started = time.perf_counter()
        time.sleep(0.3)  # not the poller's
        kept = time.perf_counter() - started

    assert cut < 0.25
    assert kept >= 0.3
    assert time.sleep is real_sleep  # restored after the run


def test_by_default_only_dag_tests_own_sleeps_are_cut():
    with _polling_every(0.01):
        assert waits(0.3) >= 0.3

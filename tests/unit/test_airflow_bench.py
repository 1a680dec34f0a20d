"""The figures of `python -m billflow_dev bench-airflow`, from hand-made task instances (no Airflow runs)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from billflow_dev.airflow_bench import (
    TaskRecord,
    busy_seconds,
    cpu_used,
    critical_path,
    format_report,
    log_moments,
    parse_settings,
    summarize,
    task_record,
    upstream_of,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(task_id: str, queued: float, start: float, end: float, map_index: int = -1, **extra) -> TaskRecord:
    return TaskRecord(task_id, map_index, extra.pop("label", ""), "success", at(queued), at(start), at(end), **extra)


# a -> b (mapped, two partitions) -> c (mapped, follows b per partition) -> d; e was skipped without running
RECORDS = [
    record("a", 1.0, 1.5, 3.5, parsed=at(1.7), executed=at(3.4)),
    record("b", 4.0, 4.2, 9.2, 0, label="p1"),
    record("b", 4.0, 4.5, 7.5, 1, label="p2"),
    record("c", 9.5, 9.6, 10.6, 0, label="p1"),
    record("c", 8.0, 8.1, 12.1, 1, label="p2"),
    record("d", 12.6, 13.0, 14.0),
    TaskRecord("e", state="skipped"),
]
UPSTREAM = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "e": ["d"]}


def test_the_summary_of_a_run():
    summary = summarize(T0, RECORDS, UPSTREAM, slowest=2)

    assert summary["trigger_to_finish_s"] == 14.0  # the trigger to d's end
    assert summary["trigger_to_first_start_s"] == 1.5
    # running: 1.5-3.5, 4.2-12.1 (b, c overlap), 13.0-14.0 = 10.9 s of the 14
    assert summary["idle_s"] == 3.1
    assert summary["queue_to_start_sum_s"] == 1.8  # 0.5 + 0.2 + 0.5 + 0.1 + 0.1 + 0.4
    assert summary["task_seconds_sum_s"] == 16.0  # 2 + 5 + 3 + 1 + 4 + 1
    assert summary["task_start_up_sum_s"] == 0.2  # only a's log moments are known
    assert summary["task_execute_sum_s"] == 15.7  # 16.0 - a's 0.2 start-up and 0.1 finish
    assert summary["states"] == {"skipped": 1, "success": 6}
    assert summary["slowest"] == [
        {"task": "b[p1]", "seconds": 5.0, "execute_s": 5.0, "state": "success"},
        {"task": "c[p2]", "seconds": 4.0, "execute_s": 4.0, "state": "success"},
    ]


def test_the_critical_path_adds_up_to_the_trigger_to_finish_time():
    path = summarize(T0, RECORDS, UPSTREAM)["critical_path"]

    # d waited for c[p2] (ended last), which followed b[p2] (same partition), which followed a
    assert [step["task"] for step in path["steps"]] == ["a", "b[p2]", "c[p2]", "d"]
    assert path["steps"][0] == {
        "task": "a",
        "scheduling_s": 1.0,  # trigger -> queued
        "dispatch_s": 0.5,  # queued -> started
        "start_up_s": 0.2,  # started -> DAG parsed in the task process
        "execute_s": 1.7,
        "finish_s": 0.1,
    }
    assert path["steps"][2]["scheduling_s"] == 0.5  # b[p2] ended at 7.5, c[p2] queued at 8.0
    assert (path["scheduling_s"], path["dispatch_s"], path["start_up_s"]) == (2.5, 1.5, 0.2)
    assert (path["execute_s"], path["finish_s"]) == (9.7, 0.1)
    assert sum(step.total for step in critical_path(T0, RECORDS, UPSTREAM)) == pytest.approx(14.0)


def test_the_union_of_running_intervals():
    assert busy_seconds([(at(0), at(2)), (at(1), at(3)), (at(5), at(6)), (at(5.5), at(5.6))]) == 4.0
    assert busy_seconds([]) == 0.0


def test_the_moments_read_from_a_task_log():
    lines = [
        json.dumps({"timestamp": "2026-12-01T00:00:01.000000Z", "event": "::group::Pre Execute"}),
        "not json",
        json.dumps({"timestamp": "2026-12-01T00:00:01.250000Z", "event": "Worker startup parse complete"}),
        json.dumps({"timestamp": "2026-12-01T00:00:04.000000Z", "event": "::group::Post Execute"}),
        json.dumps({"timestamp": "2026-12-01T00:00:05.000000Z", "event": "::group::Post Execute"}),
    ]
    assert log_moments(lines) == (at(1.25), at(5.0))  # the last Post Execute: a deferred task's resumed one
    assert log_moments([]) == (None, None)


def test_task_instances_and_tasks_from_the_rest_api():
    item = {
        "task_id": "stage_partition.stage",
        "map_index": 1,
        "rendered_map_index": "222222222222 2026-09",
        "state": "success",
        "queued_when": "2026-12-01T00:00:02Z",
        "start_date": "2026-12-01T00:00:02.500000+00:00",
        "end_date": "2026-12-01T00:00:12.500000Z",
        "try_number": 1,
    }
    parsed = task_record(item)
    assert parsed.name == "stage_partition.stage[222222222222 2026-09]"
    assert (parsed.queued, parsed.start, parsed.seconds) == (at(2), at(2.5), 10.0)

    tasks = [
        {"task_id": "begin_run", "downstream_task_ids": ["stage_partition.stage", "plan_release"]},
        {"task_id": "stage_partition.stage", "downstream_task_ids": ["plan_release"]},
        {"task_id": "plan_release", "downstream_task_ids": []},
    ]
    assert upstream_of(tasks) == {
        "begin_run": [],
        "stage_partition.stage": ["begin_run"],
        "plan_release": ["begin_run", "stage_partition.stage"],
    }


def test_settings_given_on_the_command_line_win_over_the_tuned_ones():
    tuned = parse_settings([], tuned=True)
    name = next(iter(tuned))
    assert parse_settings([f"{name}=2"], tuned=True)[name] == "2"
    assert parse_settings(["AIRFLOW__CORE__PARALLELISM=4"]) == {"AIRFLOW__CORE__PARALLELISM": "4"}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_settings(["PARALLELISM=4"])


def test_the_report_names_the_figures():
    report = format_report({**summarize(T0, RECORDS, UPSTREAM), "run_state": "success"})
    assert report.splitlines()[0] == "trigger to finish: 14.0 s (run success)"
    assert "critical path: 2.5 s scheduling + 1.5 s dispatch + 0.2 s start-up + 9.7 s execute + 0.1 s finish" in report


def test_cpu_used_by_each_component_between_two_snapshots():
    before = {10: ("scheduler", 5.0), 11: ("executor workers", 1.0), 12: ("executor workers", 2.0)}
    after = {10: ("scheduler", 7.5), 11: ("executor workers", 1.5), 13: ("executor workers", 0.25)}
    # worker 12 exited (not counted), worker 13 started in between (counted in full)
    assert cpu_used(before, after) == {"executor workers": 0.75, "scheduler": 2.5}


def test_a_deferred_task_queued_again_after_its_start_adds_no_negative_wait():
    # a sensor started at 1.0, deferred, was queued again at 6.0 when its trigger fired, and ended at 7.0
    sensor = record("sensor", 6.0, 1.0, 7.0)
    summary = summarize(T0, [record("a", 0.0, 0.5, 0.9), sensor], {"sensor": ["a"]})
    assert summary["queue_to_start_sum_s"] == 0.5  # a's only
    step = summary["critical_path"]["steps"][1]
    assert (step["scheduling_s"], step["dispatch_s"], step["execute_s"]) == (0.1, 0.0, 6.0)

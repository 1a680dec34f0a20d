"""The bench's report: each step folds its DAG tasks, divides by its floor, and prints one line a step."""

from datetime import UTC, datetime, timedelta

from billflow.orchestration.runner import TaskRun
from billflow_dev.bench import StepFigure, format_table, step_figures

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def task(task_id: str, seconds: float, label: str = "", at: float = 0.0) -> TaskRun:
    start = T0 + timedelta(seconds=at)
    return TaskRun(task_id, label, "success", seconds, start, start + timedelta(seconds=seconds))


def test_mapped_tasks_are_summed_and_divided_by_the_floor_of_their_step():
    tasks = [
        task("sense_new_deliveries", 0.25),
        task("stage_partition.stage", 2.0, "111111111111 2026-09", at=1),
        task("stage_partition.stage", 3.0, "222222222222 2026-09", at=3),
        task("plan_release", 0.25, at=6),
        task("prepare_warehouse", 0.5, at=7),
        task("dbt_build_warehouse", 4.5, at=8),
    ]

    figures = step_figures(
        tasks, {"stage": 10_000_000, "dbt build warehouse": 90_000}, {"stage": 2.0, "dbt build warehouse": 1.5}, None
    )

    assert [(f.step, f.seconds, f.partitions) for f in figures] == [
        ("sense", 0.25, 0),
        ("stage", 5.0, 2),
        ("plan, prepare warehouse", 0.75, 0),
        ("dbt build warehouse", 4.5, 0),
    ]
    stage = figures[1]
    assert stage.rows_per_second == 2_000_000  # 10M lines / 5 s
    assert stage.ratio == 2.5  # 5 s / 2 s
    assert figures[3].ratio == 3.0  # 4.5 / 1.5
    assert figures[0].ratio is None  # no floor


def test_the_table_prints_a_line_per_step_with_its_ratio():
    table = format_table([StepFigure("stage", 5.0, 10_000_000, 700.4, 2.0, 2), StepFigure("sense", 0.25, 0, 512.0)])

    lines = table.splitlines()
    assert lines[0].split() == ["step", "seconds", "rows", "rows/s", "peak", "RSS", "floor", "s", "ratio"]
    assert lines[2].split() == ["stage", "5.00", "10,000,000", "2,000,000", "700", "MiB", "2.00", "2.5x"]
    assert lines[3].split() == ["sense", "0.25", "0", "0", "512", "MiB"]

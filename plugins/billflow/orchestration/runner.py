"""Run a billflow DAG in this process with Airflow's `dag.test()`: the DAG file's own tasks and wiring, one
task after another, recorded in the Airflow metadata database like a scheduled run.

There is no second composition of the flow: the bench and the end-to-end tests run the DAGs through this.
A run that does not succeed raises DagRunFailed naming each failed task with the error it failed with
(collected by an Airflow listener while the run goes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import CodeType
from typing import Any

from billflow.config import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
DAILY_LOAD = "cur_daily_load"
MONTHLY_CLOSE = "cur_monthly_close"


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    label: str  # the map label of a mapped task ("payer YYYY-MM"), else ""
    state: str
    seconds: float
    started: datetime | None = None
    ended: datetime | None = None


@dataclass
class DagRunOutcome:
    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskRun] = field(default_factory=list)
    returns: dict[str, Any] = field(default_factory=dict)  # task id -> return value of unmapped tasks
    errors: dict[str, str] = field(default_factory=dict)  # "task_id" or "task_id[label]" -> its error

    def states(self) -> dict[str, str]:
        """Task id (with its map label) -> state."""
        return {f"{t.task_id}[{t.label}]" if t.label else t.task_id: t.state for t in self.tasks}

    def failed(self) -> list[str]:
        return [name for name, state in self.states().items() if state in ("failed", "upstream_failed")]


class DagRunFailed(RuntimeError):
    def __init__(self, outcome: DagRunOutcome) -> None:
        self.outcome = outcome
        failed = "".join(
            f"\n  - {name}: {outcome.errors[name]}" if name in outcome.errors else f"\n  - {name}"
            for name in outcome.failed()
        )
        super().__init__(f"{outcome.dag_id} run {outcome.run_id} ended {outcome.state}; failed tasks:{failed}")


def load_dag(dag_id: str, dags_dir: Path = DAGS_DIR) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_dir / f"{dag_id}.py"))
    if bag.import_errors:
        raise RuntimeError(f"cannot import {dag_id}: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    check: bool = True,
) -> DagRunOutcome:
    """One run of the DAG; with check (the default) a run that did not succeed raises DagRunFailed."""
    dag = load_dag(dag_id)
    with _collected_errors() as errors, _polling_every(POLL_SECONDS):
        dagrun = dag.test(logical_date=logical_date or datetime.now(UTC), run_conf=conf or None)
    outcome = _outcome(dag_id, dagrun)
    outcome.errors.update(errors)
    if check and outcome.state != "success":
        raise DagRunFailed(outcome)
    return outcome


def run_daily_load(
    *, force_reload: bool = False, logical_date: datetime | None = None, check: bool = True
) -> DagRunOutcome:
    """One daily load that does not wait for deliveries: with nothing to load, its tasks are skipped."""
    conf = {"force_reload": force_reload, "wait_for_deliveries": False}
    return run_dag(DAILY_LOAD, conf=conf, logical_date=logical_date, check=check)


def run_monthly_close(*, as_of: date | None = None, check: bool = True) -> DagRunOutcome:
    """The close as of that day (by default today: the end of a manual run's data interval)."""
    return run_dag(MONTHLY_CLOSE, conf={"as_of": as_of.isoformat()} if as_of else None, check=check)


# How often dag.test() looks again when no task is ready to run. It resolves skipped and upstream-failed
# states one pass at a time and sleeps a second between passes (a wait meant for deferred and
# human-in-the-loop tasks, which billflow's DAGs do not have): a run with nothing to stage, or one that
# failed, spent 3-4 s asleep.
POLL_SECONDS = 0.05


@contextmanager
def _polling_every(seconds: float, poller: CodeType | None = None) -> Iterator[None]:
    """dag.test()'s own sleeps between passes shortened to `seconds` while the run lasts. `dag.test` imports
    `time` inside itself, so the sleep is replaced where it lives and tells the calls of the poller (by
    its code object; dag.test's unless given) from everyone else's, whose sleeps stay as asked."""
    import sys
    import time

    if poller is None:
        from airflow.sdk.definitions.dag import DAG

        poller = DAG.test.__code__
    real_sleep = time.sleep

    def sleep(wanted: float) -> None:
        real_sleep(min(wanted, seconds) if sys._getframe(1).f_code is poller else wanted)

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real_sleep


@contextmanager
def _collected_errors() -> Iterator[dict[str, str]]:
    """The error of each task that fails meanwhile, through an Airflow listener (the documented hook for
    task state changes; dag.test() runs the tasks, and so their listeners, in this process)."""
    from airflow.listeners import hookimpl
    from airflow.sdk.listener import get_listener_manager

    errors: dict[str, str] = {}

    class FailureListener:
        @hookimpl
        def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
            index = task_instance.map_index
            label = getattr(task_instance, "rendered_map_index", None) or str(index)
            errors[f"{task_instance.task_id}[{label}]" if index >= 0 else task_instance.task_id] = str(error)

    listener = FailureListener()
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield errors
    finally:
        manager.pm.unregister(listener)


def _outcome(dag_id: str, dagrun: Any) -> DagRunOutcome:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    tasks = []
    returns: dict[str, Any] = {}
    with create_session() as session:
        for ti in sorted(dagrun.get_task_instances(session=session), key=_started):
            label = (ti.rendered_map_index or str(ti.map_index)) if ti.map_index >= 0 else ""
            seconds = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else 0.0
            tasks.append(TaskRun(ti.task_id, label, str(ti.state), seconds, ti.start_date, ti.end_date))
            if ti.map_index < 0 and str(ti.state) == "success":
                query = XComModel.get_many(
                    run_id=dagrun.run_id, key="return_value", dag_ids=dag_id, task_ids=ti.task_id, limit=1
                )
                row = session.scalars(query).first()
                if row is not None:
                    returns[ti.task_id] = XComModel.deserialize_value(row)
    return DagRunOutcome(dag_id, dagrun.run_id, str(dagrun.state), tasks, returns)


def _started(ti: Any) -> tuple:
    return (ti.start_date is None, ti.start_date or datetime.min.replace(tzinfo=UTC), ti.task_id, ti.map_index)

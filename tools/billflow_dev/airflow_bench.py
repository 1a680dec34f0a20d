"""`python -m billflow_dev bench-airflow`: the bench's generated month as scheduled runs of cur_daily_load.

`make bench` runs the daily DAG in one process (`dag.test()`); this runs it the way `make airflow` does:
`airflow standalone` (scheduler with the LocalExecutor, dag-processor, api-server, triggerer as
subprocesses) on a fresh SQLite metadata database and billflow home, with the pools of `make airflow-init`.
It waits until the DAG is parsed, unpauses it, triggers a run through the api-server's REST API, polls until
the run ends, reads every task instance back through the API (and two moments from each task's log), and
reports:

* trigger to finish: from the trigger request to the end of the last task;
* the critical path (from the task that ended last back through the upstream task that ended last), each
  step split into scheduling (upstream done -> queued: the scheduler's loop, pool slots), dispatch
  (queued -> started: a LocalExecutor worker forks the task process), start-up (started -> DAG parsed in
  the task process), execute (the operator: the task's own imports and work) and finish (XCom, the state
  call); the steps add up to the trigger-to-finish time;
* idle time (no task running), queue-to-start gaps summed, task durations summed, the slowest tasks, and
  the CPU the long-lived Airflow processes used meanwhile.

`--runs 2` triggers a second run on the same, now warm, processes (reloading the month: force_reload), like
a daily run of a long-running Airflow; the first run after a start also pays the api-server's first
Execution API call (seconds). Every subprocess started here is stopped on the way out (also on Ctrl-C or a
failure). Airflow settings to try go in as `--setting AIRFLOW__SECTION__KEY=value` (inherited AIRFLOW__*
variables are dropped, so a figure depends on the command line only); `--tuned` adds TUNED_SETTINGS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAG_ID = "cur_daily_load"
POOLS = {  # as `make airflow-init` sets them
    "billflow_duckdb": (1, "one writer at a time on the embedded DuckDB files"),
    "billflow_staging": (4, "parallel staging queries"),
}
# a scheduled load would wait (poking every 10 minutes) when there is nothing to load; the bench must not
RUN_CONF = {"wait_for_deliveries": False}
# what `--tuned` sets: Airflow settings `make airflow` could export too (measured with this bench, 10M lines)
PRELOADED_MODULES = (  # imported once by the LocalExecutor's forkserver instead of by every task process
    "airflow.executors.local_executor",
    "airflow.sdk.execution_time.supervisor",
    "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.dagbag",
    "billflow.orchestration.tasks",
    "billflow.orchestration.steps",
    "great_expectations",  # ~3.4 s a gate task
    "dbt.cli.main",  # with the adapter ~2.3 s a dbt build task
    "dbt.adapters.duckdb",
    "pandas",
    "pyarrow",
    "duckdb",
)
TUNED_SETTINGS = {
    # the scheduler sleeps this long after a loop that queued nothing (default 1 s): every task of the load's
    # chain of 13 waits for that loop to see its upstream done (~0.8 s a step at 1 s, ~0.35 s at 0.25 s)
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    # the worker notices its task process exited only at its next heartbeat wait (default 5 s): a task that
    # ends skipped or failed is recorded up to 5 s late (publish_portal, which finish_load waits for)
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    # workers from a forkserver that imported the heavy modules once (Airflow 3.3 [core] mp_forkserver_preload)
    "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
    "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(PRELOADED_MODULES),
}
DONE_STATES = {"success", "failed"}
TASK_DONE_STATES = {"success", "failed", "skipped", "upstream_failed", "removed"}


# ---------------------------------------------------------------- the figures (pure)


@dataclass(frozen=True)
class TaskRecord:
    """One task instance of the run, as the metadata database has it, and two moments from its log."""

    task_id: str
    map_index: int = -1
    label: str = ""  # the rendered map index of a mapped task ("payer YYYY-MM")
    state: str | None = None
    queued: datetime | None = None
    start: datetime | None = None  # set by the worker just before it asks the api-server to start it
    end: datetime | None = None
    try_number: int = 1
    parsed: datetime | None = None  # the task process has its DAG parsed ("Worker startup parse complete")
    executed: datetime | None = None  # the operator's execute() returned ("::group::Post Execute")

    @property
    def name(self) -> str:
        return f"{self.task_id}[{self.label or self.map_index}]" if self.map_index >= 0 else self.task_id

    @property
    def ran(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def seconds(self) -> float:
        return _seconds(self.start, self.end) if self.ran else 0.0

    def phases(self) -> tuple[float, float, float]:
        """(start-up, execute, finish) seconds of a task that ran: start -> DAG parsed in the task process (the
        api-server's start call, the fork, the DAG file) -> execute() returned (the task's own work and its
        imports) -> end (XCom, the state call). Without the log moments all of it counts as execute."""
        assert self.start is not None and self.end is not None
        parsed = min(max(self.parsed or self.start, self.start), self.end)
        executed = min(max(self.executed or self.end, parsed), self.end)
        return _seconds(self.start, parsed), _seconds(parsed, executed), _seconds(executed, self.end)


@dataclass(frozen=True)
class PathStep:
    """A task of the critical path and the waits before it, from the moment its last upstream ended."""

    record: TaskRecord
    scheduling: float  # upstream done (or the trigger) -> queued: the scheduler's loops, pool slots
    dispatch: float  # queued -> started: the LocalExecutor's worker takes it and forks the task process
    start_up: float  # started -> DAG parsed in the task process
    execute: float  # the operator: imports inside the task, the work
    finish: float  # XCom push, the success call

    @property
    def total(self) -> float:
        return self.scheduling + self.dispatch + self.start_up + self.execute + self.finish


PATH_COLUMNS = ("scheduling", "dispatch", "start_up", "execute", "finish")


def _seconds(start: datetime | None, end: datetime | None) -> float:
    assert start is not None and end is not None
    return (end - start).total_seconds()


def busy_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    """Seconds covered by at least one of the intervals (their union)."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += _seconds(current_start, current_end)
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += _seconds(current_start, current_end)
    return total


def _upstream_records(
    record: TaskRecord, upstream: Mapping[str, Sequence[str]], by_task: Mapping[str, list[TaskRecord]]
) -> list[TaskRecord]:
    """The task instances `record` waited for: of each upstream task, the instance with the same map index
    (a mapped task group's tasks follow each other per index) or else all its instances."""
    found = []
    for task_id in upstream.get(record.task_id, ()):
        instances = [r for r in by_task.get(task_id, []) if r.ran]
        same_index = [r for r in instances if record.map_index >= 0 and r.map_index == record.map_index]
        found += same_index or instances
    return found


def critical_path(
    trigger: datetime, records: Sequence[TaskRecord], upstream: Mapping[str, Sequence[str]]
) -> list[PathStep]:
    """From the task that ended last back to the trigger, each step's upstream instance that ended last; in
    run order. The steps' totals add up to the trigger-to-finish time."""
    ran = [r for r in records if r.ran]
    if not ran:
        return []
    by_task: dict[str, list[TaskRecord]] = {}
    for r in ran:
        by_task.setdefault(r.task_id, []).append(r)
    steps: list[PathStep] = []
    current: TaskRecord | None = max(ran, key=lambda r: (r.end, r.name))
    while current is not None:
        before = [r for r in _upstream_records(current, upstream, by_task) if r.end <= current.start]
        previous = max(before, key=lambda r: (r.end, r.name)) if before else None
        ready = min(previous.end if previous is not None else trigger, current.start)
        queued = min(max(current.queued or ready, ready), current.start)
        steps.append(PathStep(current, _seconds(ready, queued), _seconds(queued, current.start), *current.phases()))
        current = previous
    return steps[::-1]


def summarize(
    trigger: datetime,
    records: Sequence[TaskRecord],
    upstream: Mapping[str, Sequence[str]] | None = None,
    slowest: int = 10,
) -> dict[str, Any]:
    """The run's figures from its task instances (seconds, rounded to the millisecond)."""
    ran = [r for r in records if r.ran]
    if not ran:
        raise ValueError("no task instance of the run has both a start and an end")
    last_end = max(r.end for r in ran)
    total = _seconds(trigger, last_end)
    path = critical_path(trigger, records, upstream or {})
    rounded = lambda value: round(value, 3)  # noqa: E731
    phases = [r.phases() for r in ran]
    return {
        "trigger_to_finish_s": rounded(total),
        "trigger_to_first_start_s": rounded(_seconds(trigger, min(r.start for r in ran))),
        "idle_s": rounded(total - busy_seconds((max(r.start, trigger), r.end) for r in ran)),
        # a deferred task is queued again when it resumes, after its start: only waits before a start count
        "queue_to_start_sum_s": rounded(sum(max(0.0, _seconds(r.queued, r.start)) for r in ran if r.queued)),
        "task_seconds_sum_s": rounded(sum(r.seconds for r in ran)),
        "task_start_up_sum_s": rounded(sum(p[0] for p in phases)),
        "task_execute_sum_s": rounded(sum(p[1] for p in phases)),
        "task_instances": len(records),
        "states": dict(sorted(_count(r.state or "none" for r in records).items())),
        "critical_path": {
            **{f"{c}_s": rounded(sum(getattr(s, c) for s in path)) for c in PATH_COLUMNS},
            "steps": [
                {"task": s.record.name, **{f"{c}_s": rounded(getattr(s, c)) for c in PATH_COLUMNS}} for s in path
            ],
        },
        "slowest": [
            {"task": r.name, "seconds": rounded(r.seconds), "execute_s": rounded(r.phases()[1]), "state": r.state}
            for r in sorted(ran, key=lambda r: (-r.seconds, r.name))[:slowest]
        ],
    }


def log_moments(lines: Iterable[str]) -> tuple[datetime | None, datetime | None]:
    """(DAG parsed, execute() returned) from a task log's JSON lines: the first "Worker startup parse complete"
    and the last "::group::Post Execute" event (a deferred task is parsed again when it resumes, and its
    execute() returns once, after the deferral)."""
    parsed = executed = None
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = str(entry.get("event", ""))
        if parsed is None and event.startswith("Worker startup parse complete"):
            parsed = parse_time(entry.get("timestamp"))
        elif event.startswith("::group::Post Execute"):
            executed = parse_time(entry.get("timestamp"))
    return parsed, executed


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def parse_time(value: str | None) -> datetime | None:
    """An API timestamp ("2026-12-02T11:05:09.123456Z" or with an offset) as an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def task_record(item: Mapping[str, Any]) -> TaskRecord:
    """A TaskRecord from one task instance of the REST API (GET .../dagRuns/{run}/taskInstances)."""
    return TaskRecord(
        task_id=item["task_id"],
        map_index=int(item.get("map_index", -1)),
        label=item.get("rendered_map_index") or "",
        state=item.get("state"),
        queued=parse_time(item.get("queued_when")),
        start=parse_time(item.get("start_date")),
        end=parse_time(item.get("end_date")),
        try_number=int(item.get("try_number") or 1),
    )


def upstream_of(tasks: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Task id -> its upstream task ids, from the REST API's task list (which names downstream ids)."""
    upstream: dict[str, list[str]] = {}
    for task in tasks:
        upstream.setdefault(task["task_id"], [])
        for downstream in task.get("downstream_task_ids") or ():
            upstream.setdefault(downstream, []).append(task["task_id"])
    return {task_id: sorted(ids) for task_id, ids in upstream.items()}


def format_report(summary: Mapping[str, Any]) -> str:
    """The human-readable lines of a summary."""
    path = summary["critical_path"]
    lines = [
        f"trigger to finish: {summary['trigger_to_finish_s']:.1f} s (run {summary.get('run_state', '?')})",
        f"  trigger to first task start: {summary['trigger_to_first_start_s']:.1f} s;"
        f" no task running for {summary['idle_s']:.1f} s of it",
        f"  task durations summed: {summary['task_seconds_sum_s']:.1f} s (start-up in the task processes"
        f" {summary['task_start_up_sum_s']:.1f} s); queue-to-start gaps summed:"
        f" {summary['queue_to_start_sum_s']:.1f} s",
        "  critical path: " + " + ".join(f"{path[c + '_s']:.1f} s {c.replace('_', '-')}" for c in PATH_COLUMNS),
        f"  {'critical path task':<44} {'sched':>6} {'disp':>6} {'start':>6} {'exec':>7} {'fin':>6}",
    ]
    lines += [
        f"  {s['task']:<44} {s['scheduling_s']:6.2f} {s['dispatch_s']:6.2f} {s['start_up_s']:6.2f}"
        f" {s['execute_s']:7.2f} {s['finish_s']:6.2f}"
        for s in path["steps"]
    ]
    if summary.get("component_cpu_s"):
        used = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary["component_cpu_s"].items())
        lines.append(f"  CPU of the Airflow processes meanwhile: {used}")
    lines.append(f"  {'slowest tasks':<44} {'seconds':>7} {'exec':>7}")
    lines += [f"  {t['task']:<44} {t['seconds']:7.2f} {t['execute_s']:7.2f}  {t['state']}" for t in summary["slowest"]]
    return "\n".join(lines)


# ---------------------------------------------------------------- Airflow as `make airflow` runs it


class BenchFailed(RuntimeError):
    pass


def register(subparsers: argparse._SubParsersAction) -> None:
    from billflow_dev.bench import SHAPES

    parser = subparsers.add_parser(
        "bench-airflow", help="time the generated month as scheduled runs of the daily DAG (airflow standalone)"
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw CUR lines to generate (default 10M)")
    parser.add_argument("--shape", choices=SHAPES, default="small", help="the generated month's shape, as for bench")
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="work folder, shared with bench (.bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="api-server port (default: a free one)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="AIRFLOW__SECTION__KEY=VALUE",
        help="an Airflow setting for every component (repeatable)",
    )
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="add TUNED_SETTINGS: a shorter scheduler idle sleep and worker heartbeat wait, LocalExecutor workers "
        "from a forkserver that preloads Great Expectations, dbt and billflow",
    )
    parser.add_argument(
        "--preload",
        default="",
        metavar="MODULE,...",
        help="modules the scheduler imports at start (an airflow_local_settings.py in AIRFLOW_HOME/config), so "
        "the LocalExecutor's workers and the task processes forked from them have them imported already",
    )
    parser.add_argument("--dags-folder", type=Path, help="another DAG folder (an experimental DAG variant)")
    parser.add_argument(
        "--pythonpath", type=Path, action="append", default=[], help="a folder before the checkout's on PYTHONPATH"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds the run may take (default 900)")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="runs one after another on the same Airflow (default 1); the later ones reload the month "
        "(force_reload) on warm processes, like a daily run of a long-running Airflow",
    )
    parser.add_argument("--slowest", type=int, default=10, help="slowest tasks listed (default 10)")
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample the scheduler and every process below it (the task processes) with py-spy from the trigger "
        "to the end of the run into this file (collapsed stacks, one root frame per process); slows the run",
    )
    parser.set_defaults(func=run)


def parse_settings(pairs: Sequence[str], tuned: bool = False) -> dict[str, str]:
    """`--setting NAME=VALUE` pairs (after the tuned ones, so they win) as a dict; only AIRFLOW__* names."""
    settings = dict(TUNED_SETTINGS) if tuned else {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("AIRFLOW__"):
            raise argparse.ArgumentTypeError(f"--setting {pair!r}: expected AIRFLOW__SECTION__KEY=VALUE")
        settings[name] = value
    return settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(
    landing: Path,
    airflow_home: Path,
    billflow_home: Path,
    port: int,
    settings: Mapping[str, str],
    dags_folder: Path | None = None,
    pythonpath: Sequence[Path] = (),
) -> dict[str, str]:
    """The environment of every Airflow process: what `make airflow` exports, the bench's homes (as bench.py
    sets them), the api-server on `port`, then the settings under test."""
    from billflow.config import REPO_ROOT

    venv_bin = Path(sys.executable).parent
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW__")}
    for name in ("BILLFLOW_WAREHOUSE_PATH", "BILLFLOW_SERVING_PATH", "BILLFLOW_SERVING_CONN_ID"):
        env.pop(name, None)
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder.resolve() if dags_folder else REPO_ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO_ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # the task processes reach the Execution API through this URL (default http://localhost:8080)
        AIRFLOW__API__BASE_URL=f"http://localhost:{port}/",
        PYTHONPATH=os.pathsep.join(
            [*(str(p.resolve()) for p in pythonpath), str(REPO_ROOT / "plugins"), str(REPO_ROOT / "tools")]
        ),
        PATH=os.pathsep.join([str(venv_bin), env.get("PATH", "")]),  # standalone starts `airflow` from the PATH
        BILLFLOW_HOME=str(billflow_home),
        BILLFLOW_LANDING_URI=str(landing),
        BILLFLOW_STAGED_URI=str(billflow_home / "staged"),
        BILLFLOW_TASK_RETRIES="0",  # a failed task fails the run at once
        # no cron runs: unpausing would otherwise start the latest daily run (catchup=False) ahead of the
        # bench's run, which then waits for it (max_active_runs=1) with the month already loaded
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
    )
    env.update(settings)
    return env


def _airflow(env: Mapping[str, str], *args: str, log: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("a") as out:
        done = subprocess.run([airflow, *args], env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise BenchFailed(f"airflow {' '.join(args)} failed:\n{_tail(log, 30)}")


def _prepare(env: Mapping[str, str], airflow_home: Path) -> None:
    """A new metadata database and the pools of `make airflow-init` (one `airflow pools import`)."""
    airflow_home.mkdir(parents=True)
    log = airflow_home / "prepare.log"
    _airflow(env, "db", "migrate", log=log)
    pools = airflow_home / "pools.json"
    pools.write_text(
        json.dumps(
            {
                name: {"slots": slots, "description": text, "include_deferred": False}
                for name, (slots, text) in POOLS.items()
            }
        )
    )
    _airflow(env, "pools", "import", str(pools), log=log)


PRELOAD_TEMPLATE = '''"""Written by `python -m billflow_dev bench-airflow --preload`: the scheduler imports these
modules once at start; the LocalExecutor forks its workers from the scheduler and each task process from a
worker, so a task finds them imported instead of importing them itself."""

import sys

if sys.argv[1:2] == ["scheduler"]:
{imports}
'''


def write_preload(path: Path, modules: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PRELOAD_TEMPLATE.format(imports="\n".join(f"    import {name}" for name in modules)))


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def _standalone(env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`airflow standalone` in its own session, stopped with all its descendants on the way out."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [airflow, "standalone"], env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield process
    finally:
        try:
            _stop(process)
        finally:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to `process` and every process below it (and its process group), SIGKILL to what is left."""
    import psutil

    try:
        root = psutil.Process(process.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the session's group: anything that was re-parented
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _start_profiler(standalone: subprocess.Popen, output: Path) -> subprocess.Popen:
    """py-spy on the scheduler (the LocalExecutor's workers and their task processes are forked below it)."""
    import psutil

    schedulers = [
        p for p in psutil.Process(standalone.pid).children(recursive=True) if p.cmdline()[-1:] == ["scheduler"]
    ]
    if not schedulers:
        raise BenchFailed("no scheduler process below airflow standalone to profile")
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--pid", str(schedulers[0].pid), "--subprocesses", "--nonblocking"]
    command += ["--rate", "50", "--format", "raw", "--output", str(output.resolve())]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(1.0)  # py-spy attaches
    if profiler.poll() is not None:
        raise BenchFailed(f"py-spy did not start: {profiler.stderr.read().decode(errors='replace')[-2000:]}")
    return profiler


def _stop_profiler(profiler: subprocess.Popen) -> None:
    """SIGINT makes py-spy write its file."""
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


class Api:
    """The api-server's REST API (v2) with the admin user `airflow standalone` generates a password for."""

    def __init__(self, base_url: str, password_file: Path, standalone: subprocess.Popen, log: Path) -> None:
        self.base_url = base_url.rstrip("/")
        self.password_file = password_file
        self.standalone = standalone
        self.log = log
        self.token: str | None = None

    def _check_alive(self) -> None:
        if self.standalone.poll() is not None:
            raise BenchFailed(f"airflow standalone exited ({self.standalone.returncode}):\n{_tail(self.log, 40)}")

    def request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def login(self, timeout: float) -> None:
        """Wait for the api-server and the generated password, then get a token."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                users = json.loads(self.password_file.read_text())
                body = {"username": "admin", "password": users["admin"]}
                self.token = self.request("POST", "/auth/token", body, auth=False)["access_token"]
                return
            except (OSError, ValueError, KeyError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise BenchFailed(
                        f"the api-server did not answer in {timeout:.0f} s:\n{_tail(self.log, 40)}"
                    ) from None
                time.sleep(0.5)

    def wait_for_dag(self, dag_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                return self.request("GET", f"/api/v2/dags/{dag_id}")
            except urllib.error.HTTPError as error:
                if error.code != 404 or time.monotonic() > deadline:
                    raise BenchFailed(
                        f"{dag_id} not parsed in {timeout:.0f} s ({error}):\n{_tail(self.log, 40)}"
                    ) from None
            errors = self.request("GET", "/api/v2/importErrors").get("import_errors") or []
            if errors:
                raise BenchFailed(f"DAG import errors: {json.dumps(errors, indent=2)[:4000]}")
            time.sleep(0.5)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.request(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100&offset={len(items)}"
            )
            items += page["task_instances"]
            if not page["task_instances"] or len(items) >= page["total_entries"]:
                return items


def _wait_for_run(api: Api, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        api._check_alive()
        dag_run = api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        if dag_run["state"] in DONE_STATES:
            return dag_run
        if time.monotonic() > deadline:
            raise BenchFailed(f"run {run_id} still {dag_run['state']} after {timeout:.0f} s")
        time.sleep(1.0)  # the figures come from the task instances, not from when the poll sees the end


def task_log(airflow_home: Path, record: TaskRecord, run_id: str, try_number: int = 1) -> Path:
    """Where the task's log file is (Airflow's default log_filename_template)."""
    folder = airflow_home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={record.task_id}"
    if record.map_index >= 0:
        folder /= f"map_index={record.map_index}"
    return folder / f"attempt={try_number}.log"


def _with_log_moments(record: TaskRecord, airflow_home: Path, run_id: str) -> TaskRecord:
    path = task_log(airflow_home, record, run_id, record.try_number)
    if not path.exists():
        return record
    with path.open(errors="replace") as lines:
        parsed, executed = log_moments(lines)
    return replace(record, parsed=parsed, executed=executed)


def _log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a task log (JSON lines: timestamp, level, event, error detail)."""
    if not path.exists():
        return f"    ({path} does not exist)"
    shown = []
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        try:
            entry = json.loads(line)
        except ValueError:
            shown.append(f"    {line}")
            continue
        text = f"    {entry.get('timestamp', '')} {entry.get('level', '')} {entry.get('event', '')}"
        for detail in entry.get("error_detail") or []:
            text += f"\n      {detail.get('exc_type')}: {detail.get('exc_value')}"
        shown.append(text)
    return "\n".join(shown)


def run(args: argparse.Namespace) -> int:
    try:
        settings = parse_settings(args.setting, args.tuned)
    except argparse.ArgumentTypeError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        return _bench(args, settings)
    except BenchFailed as error:
        print(f"bench-airflow: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the Airflow processes are stopped by then
        print("bench-airflow: interrupted; every Airflow process it started is stopped", file=sys.stderr)
        return 130


def _bench(args: argparse.Namespace, settings: dict[str, str]) -> int:
    from billflow_dev.bench import generated_month

    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing = generated_month(work, args.rows, args.seed, args.shape)
    base = work / "airflow-bench"
    shutil.rmtree(base, ignore_errors=True)
    airflow_home, billflow_home = base / "airflow", base / "run"
    port = args.port or _free_port()
    env = _environment(landing, airflow_home, billflow_home, port, settings, args.dags_folder, args.pythonpath)
    print(
        f"bench-airflow: {args.rows:,} raw lines ({args.shape}), {os.cpu_count()} cores, settings {settings}",
        file=sys.stderr,
    )
    started = time.monotonic()
    _prepare(env, airflow_home)
    preload = [name.strip() for name in args.preload.split(",") if name.strip()]
    if preload:
        write_preload(airflow_home / "config" / "airflow_local_settings.py", preload)
    print(f"  metadata database and pools: {time.monotonic() - started:.1f} s", file=sys.stderr)

    log = base / "standalone.log"
    summaries: list[dict[str, Any]] = []
    problem = None
    with _standalone(env, log) as standalone:
        api = Api(
            f"http://127.0.0.1:{port}", airflow_home / "simple_auth_manager_passwords.json.generated", standalone, log
        )
        api.login(timeout=180)
        api.wait_for_dag(DAG_ID, timeout=180)
        print(f"  airflow standalone up, {DAG_ID} parsed: {time.monotonic() - started:.1f} s", file=sys.stderr)
        api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        upstream = upstream_of(api.request("GET", f"/api/v2/dags/{DAG_ID}/tasks")["tasks"])
        for number in range(1, args.runs + 1):
            # the first run loads the new month; a later one loads it all again (force_reload) on warm processes
            conf = {**RUN_CONF, "force_reload": number > 1}
            summary, records = _one_run(api, standalone, args, conf, upstream, airflow_home, number)
            summaries.append(summary)
            print(f"run {number} of {args.runs}: " + format_report(summary), file=sys.stderr)
            problem = _run_problem(summary, records, airflow_home)
            if problem:
                break
        runs = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]
        others = {r["dag_run_id"] for r in runs} - {s["run_id"] for s in summaries}
        if others:
            print(f"  warning: other runs of {DAG_ID} in the database: {sorted(others)}", file=sys.stderr)

    result = {
        "raw_lines": args.rows,
        "shape": args.shape,
        "settings": settings,
        "preload": preload,
        "code": _code_version(),
        "trigger_to_finish_s": [s["trigger_to_finish_s"] for s in summaries],
        "runs": summaries,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if problem:
        print(f"bench-airflow: {problem}", file=sys.stderr)
        return 1
    return 0


COMPONENTS = (  # process title or command line -> the component it belongs to
    ("LocalExecutor", "executor workers"),
    ("airflow scheduler", "scheduler"),
    ("serve-logs", "scheduler"),
    ("api-server", "api-server"),
    ("api_server", "api-server"),
    ("dag-processor", "dag-processor"),
    ("triggerer", "triggerer"),
)


def component_cpu(root_pid: int) -> dict[int, tuple[str, float]]:
    """pid -> (component, CPU seconds so far) of each long-lived process below `root_pid`."""
    import psutil

    found: dict[int, tuple[str, float]] = {}
    try:
        processes = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for process in processes:
        try:
            command = " ".join(process.cmdline())
            times = process.cpu_times()
        except psutil.Error:
            continue
        for pattern, component in COMPONENTS:
            if pattern in command:
                found[process.pid] = (component, times.user + times.system)
                break
    return found


def cpu_used(before: Mapping[int, tuple[str, float]], after: Mapping[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per component between two snapshots (a process that appeared in between counts in full)."""
    used: dict[str, float] = {}
    for pid, (component, seconds) in after.items():
        used[component] = used.get(component, 0.0) + seconds - before.get(pid, (component, 0.0))[1]
    return {component: round(seconds, 2) for component, seconds in sorted(used.items())}


def _code_version() -> dict[str, Any]:
    """The checkout the figures are of: its commit and the files changed since (read with git, if there)."""
    from billflow.config import REPO_ROOT

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--porcelain").splitlines()}


def _one_run(
    api: Api,
    standalone: subprocess.Popen,
    args: argparse.Namespace,
    conf: dict[str, Any],
    upstream: Mapping[str, Sequence[str]],
    airflow_home: Path,
    number: int = 1,
) -> tuple[dict[str, Any], list[TaskRecord]]:
    """Trigger one run, wait for its end, and summarize its task instances."""
    profile = args.profile
    if profile is not None and args.runs > 1:  # a file per run
        profile = profile.with_name(f"{profile.stem}-run{number}{profile.suffix}")
    profiler = None
    try:
        profiler = _start_profiler(standalone, profile) if profile is not None else None
        load = os.getloadavg()[0]
        cpu_before = component_cpu(standalone.pid)
        trigger = datetime.now(UTC)
        dag_run = api.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})
        run_id = dag_run["dag_run_id"]
        print(f"  triggered {run_id} (conf {json.dumps(conf)})", file=sys.stderr)
        dag_run = _wait_for_run(api, DAG_ID, run_id, args.timeout)
    finally:
        if profiler is not None:
            _stop_profiler(profiler)
    cpu_after = component_cpu(standalone.pid)
    items = api.task_instances(DAG_ID, run_id)
    records = [_with_log_moments(task_record(item), airflow_home, run_id) for item in items]
    summary: dict[str, Any] = {
        "run_id": run_id,
        "run_state": dag_run["state"],
        "conf": conf,
        "trigger": trigger.isoformat(),
        "run_end": dag_run.get("end_date"),
        "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)],  # before and after: the machine's noise
        # CPU seconds the long-lived Airflow processes used from the trigger to the end (task processes not counted)
        "component_cpu_s": cpu_used(cpu_before, cpu_after),
        **summarize(trigger, records, upstream, args.slowest),
    }
    end = parse_time(dag_run.get("end_date"))
    if end is not None:
        summary["trigger_to_run_end_s"] = round((end - trigger).total_seconds(), 3)
    return summary, records


def _run_problem(summary: dict[str, Any], records: Sequence[TaskRecord], airflow_home: Path) -> str | None:
    """What is wrong with a finished run (printing the failed tasks' log tails), or None."""
    if summary["run_state"] != "success":
        for record in (r for r in records if r.state == "failed"):
            path = task_log(airflow_home, record, summary["run_id"], record.try_number)
            print(f"failed task {record.name}, log {path}:\n{_log_tail(path)}", file=sys.stderr)
        return f"run {summary['run_id']} ended {summary['run_state']}"
    if not any(r.task_id.endswith(".stage") and r.state == "success" for r in records):
        return f"run {summary['run_id']} staged nothing (no delivery found in the landing zone?)"
    return None

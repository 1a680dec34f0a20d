"""Daily loads killed (SIGKILL: no cleanup, no finally) at a chosen point, as when a worker dies.

    python -m tests.reliability.crash

reads crash points (staging, dbt, publish or release) from stdin, one per line. For each, it forks a child
that runs the daily DAG (dag.test) and kills itself at that point, waits for it and prints
"<RESULT> <point> <exit code>" (minus the signal that ended the child). The heavy imports and the first use
of dbt and GX happen once, before the first fork, so a killed run costs what a run costs, not a new
interpreter's start; nothing
runs a DAG in this process itself (dag.test starts threads that a forked child would lack). Used by
tests/reliability/test_faults.py; the environment (BILLFLOW_HOME, ...) comes from the caller.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

RESULT = "crash-result:"
POINTS = ("staging", "dbt", "publish", "release")
CHILD_TIMEOUT = 900  # seconds; a child still running then gets SIGALRM


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def after(function):
    def wrapper(*args, **kwargs):
        function(*args, **kwargs)
        die()

    return wrapper


def arm(point: str) -> None:
    """Patch this (child) process so that its load dies at `point`."""
    if point == "staging":  # the version's raw totals and cost file are written, its tags are not
        from billflow.engines.duckdb_engine import DuckDBEngine

        DuckDBEngine._copy = after(DuckDBEngine._copy)  # the first staged file written: the cost file
    elif point == "dbt":  # in the middle of the candidate warehouse's dbt build: after its fifth node
        import dbt.cli.main

        class DyingRunner(dbt.cli.main.dbtRunner):
            def __init__(self, *args, **kwargs):
                finished = []

                def callback(event) -> None:
                    if event.info.name == "NodeFinished":
                        finished.append(event)
                        if len(finished) == 5:
                            die()

                super().__init__(*args, callbacks=[callback], **kwargs)

        dbt.cli.main.dbtRunner = DyingRunner
    elif point == "publish":  # the serving shadow is written, its check to the cent has not run
        from billflow.serving import publish

        publish._check_copy = lambda *args: die()
    elif point == "release":  # the release is committed, the warehouse file not renamed yet
        from billflow.warehouse import build

        build.release_warehouse = lambda *args: die()
    else:
        raise ValueError(f"unknown crash point {point!r}")


def warm_imports() -> None:
    """What a load imports (Airflow's task SDK and its in-process Execution API, dbt and its DuckDB adapter,
    Great Expectations, billflow)."""
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401
    import great_expectations  # noqa: F401
    from airflow.api_fastapi.execution_api import app  # noqa: F401 - what dag.test serves its tasks with
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.sdk.execution_time import supervisor  # noqa: F401

    from billflow.orchestration import runner, steps, tasks  # noqa: F401


def warm_libraries() -> None:
    """What a load does the first time in a process and a forked child inherits (about 10 s a child): dbt's
    parse of both builds (the partial-parse files a load writes too) and its first statement, and one gate
    of a live version of the home (results kept in a scratch folder). Nothing here opens the warehouse
    candidate or changes what is live; no thread outlives it (dag.test's would not survive a fork)."""
    import tempfile
    from pathlib import Path

    import tqdm

    from billflow.config import allocation_tag_keys, load_settings
    from billflow.engines.factory import staged_store
    from billflow.formats.line_item_types import known_line_item_types
    from billflow.orchestration.steps import DBT_BUILDS
    from billflow.quality.gate import check_staged_partition
    from billflow.staging.stage import local_version_files, read_raw_checks, read_raw_totals
    from billflow.staging.versions import stored_versions
    from billflow.warehouse.dbt import invoke_dbt

    settings = load_settings()
    tqdm.tqdm.monitor_interval = 0  # no tqdm monitor thread (GX's progress bars would start one)

    def dbt_args(build: str) -> list[str]:
        return [
            *("--target", DBT_BUILDS[build][1], "--project-dir", str(settings.dbt_project_dir)),
            *("--profiles-dir", str(settings.dbt_profiles_dir)),
            *("--target-path", str(settings.home / "dbt-target" / build)),
        ]

    for build in DBT_BUILDS:
        assert invoke_dbt(["parse", "--no-write-json", *dbt_args(build)]).success, f"dbt parse of {build}"
    assert invoke_dbt(["show", "--inline", "select 1 as warm", *dbt_args("serving")]).success, "dbt show"

    store = staged_store(settings)
    version = next(iter(stored_versions(store)))
    with (
        tempfile.TemporaryDirectory(prefix="billflow-warm-gx-") as scratch,
        local_version_files(store, version) as (staged_file, tags_file),
    ):
        check_staged_partition(
            staged_file,
            read_raw_totals(store, version),
            raw_checks=read_raw_checks(store, version),
            known_line_item_types=known_line_item_types(settings.dbt_project_dir),
            payer_account_id=version.payer_account_id,
            billing_period=version.billing_period,
            tag_costs=tags_file,
            tag_keys=allocation_tag_keys(settings.dbt_project_dir / "rules" / "allocation_tag_keys.csv"),
            results_dir=Path(scratch),
        )


def killed_load(point: str) -> int:
    """Fork a child whose daily load dies at `point`; its exit code (3: the load ended without dying)."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            signal.alarm(CHILD_TIMEOUT)
            from billflow.orchestration.runner import run_daily_load

            arm(point)
            run_daily_load()
            print(f"the load finished without being killed at {point}", flush=True)
        except BaseException:
            traceback.print_exc()
            code = 4
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    import threading

    warm_imports()
    warm_libraries()
    assert threading.active_count() == 1, f"threads left before forking: {threading.enumerate()}"
    for line in sys.stdin:
        point = line.strip()
        code = killed_load(point) if point in POINTS else 2
        # one write of the whole line: the pipe is shared with other processes' output (a resource tracker's
        # warning once landed between a print's text and its newline)
        sys.stdout.flush()
        os.write(sys.stdout.fileno(), f"{RESULT} {point} {code}\n".encode())


if __name__ == "__main__":
    main()

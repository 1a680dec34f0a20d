"""Daily loads killed (SIGKILL: no cleanup, no finally) at a chosen point, as when a worker dies.

    python -m tests.reliability.crash

reads crash points (staging, dbt, publish or release) from stdin, one per line. For each, it forks a child
that runs the daily DAG (dag.test) and kills itself at that point, waits for it and prints
"<RESULT> <point> <exit code>" (minus the signal that ended the child). The heavy imports happen once,
before the first fork, so a killed run costs what a run costs, not a new interpreter's imports; nothing
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

        DuckDBEngine.unload = after(DuckDBEngine.unload)
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
    """What a load imports (Airflow's task SDK, dbt and its DuckDB adapter, Great Expectations, billflow)."""
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401
    import great_expectations  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.sdk.execution_time import supervisor  # noqa: F401

    from billflow.orchestration import runner, steps, tasks  # noqa: F401


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
    warm_imports()
    for line in sys.stdin:
        point = line.strip()
        code = killed_load(point) if point in POINTS else 2
        # one write of the whole line: the pipe is shared with other processes' output (a resource tracker's
        # warning once landed between a print's text and its newline)
        sys.stdout.flush()
        os.write(sys.stdout.fileno(), f"{RESULT} {point} {code}\n".encode())


if __name__ == "__main__":
    main()

"""Run the daily DAG in this process (dag.test) and kill it (SIGKILL: no cleanup, no finally) at a chosen point.

    python -m tests.reliability.crash staging|dbt|publish|release

Used by tests/reliability/test_faults.py; the environment (BILLFLOW_HOME, ...) comes from the caller.
"""

from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def after(function):
    def wrapper(*args, **kwargs):
        function(*args, **kwargs)
        die()

    return wrapper


def arm(point: str) -> None:
    if point == "staging":  # the version's cost file is written, its tags and raw totals are not
        from billflow.engines.duckdb_engine import DuckDBEngine

        DuckDBEngine.copy_to_parquet = after(DuckDBEngine.copy_to_parquet)
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
        raise SystemExit(f"unknown crash point {point!r}")


def main() -> None:
    from billflow.orchestration.runner import run_daily_load

    arm(sys.argv[1])
    run_daily_load()
    print("the load finished without being killed")
    sys.exit(3)


if __name__ == "__main__":
    main()

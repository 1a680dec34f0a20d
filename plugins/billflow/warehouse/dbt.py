"""dbt, run in this process (a DAG task, the close, the bench and the tests all build through here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def invoke_dbt(args: Sequence[str]) -> Any:
    """`dbt <args>` through dbt's programmatic runner; returns its dbtRunnerResult.

    The DuckDB profiles keep their database open for the whole invocation (keep_open: reopening the file
    for each node cost about 60 ms a node; the warehouse build of the test data ran 9-10 s instead of
    12-14 s). It is closed here once dbt returns,
    whatever the outcome, so the file is free for the next step: DuckDB allows one writer per file, and a
    later connection of this process with other options (read-only) would be refused while it is open."""
    from dbt.cli.main import dbtRunner

    _reuse_dbt_caches()
    try:
        return dbtRunner().invoke(list(args))
    finally:
        _close_duckdb_environment()


def _reuse_dbt_caches() -> None:
    """Let dbt keep, across the invocations of this process, what it otherwise works out again on each: the
    installed dbt plugin modules (a scan of every sys.path entry, about 1 s an invocation here) and the parsed
    Jinja templates of its macros. dbt's own switch for this is in dbt_common.tests (made for its test
    suite's many invocations); both caches are keyed by what they hold (a module list fixed for the process,
    a template's full text), so a later invocation cannot get a stale entry. An Airflow task runs one
    invocation and gains nothing; the in-process runner, the close, the bench and the tests run many."""
    from dbt_common.tests import enable_test_caching

    enable_test_caching()


def _close_duckdb_environment() -> None:
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb is not installed: no DuckDB profile
        return
    # dbt-duckdb keeps the open database in one environment per process and has no public way to close it
    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()

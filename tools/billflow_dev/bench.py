"""`python -m billflow_dev bench`: time a generated month of CUR from the landing zone to the serving marts.

Runs the daily DAG itself (billflow.orchestration.runner: dag.test() in this process, the embedded
engines) and reports each task's time from the run's task instances, so the figures are those of the
product's own steps plus Airflow's per-task cost, without a scheduler.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time a generated month from landing zone to serving marts")
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw CUR lines to generate (default 10M)")
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="work folder (default .bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=run)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_month(work: Path, rows: int, seed: int) -> Path:
    """The generated month of the bench (and athena-scan) in `work`: generated once, reused while the options match."""
    from billflow_dev.generator import generate_cur

    landing, marker = work / "landing", work / "landing.json"
    options = {"period": "2026-09", "payers": 2, "accounts": 8, "rows": rows, "seed": seed, "fmt": "mixed"}
    if marker.exists() and json.loads(marker.read_text()) == options:
        return landing
    shutil.rmtree(landing, ignore_errors=True)
    started = time.perf_counter()
    generate_cur(landing, final=True, **options)
    print(f"generated {rows:,} lines in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    marker.write_text(json.dumps(options))
    return landing


def _airflow_home(work: Path) -> None:
    """The bench's own Airflow metadata database (SQLite), migrated once, with the checkout's DAGs."""
    from billflow.orchestration.runner import DAGS_DIR

    home = work / "airflow"
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        BILLFLOW_TASK_RETRIES="0",
    )
    if not (home / "airflow.db").exists():
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)


def run(args: argparse.Namespace) -> int:
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing = generated_month(work, args.rows, args.seed)
    _airflow_home(work)
    home = work / "run"
    shutil.rmtree(home, ignore_errors=True)
    os.environ.update(
        BILLFLOW_HOME=str(home), BILLFLOW_LANDING_URI=str(landing), BILLFLOW_STAGED_URI=str(home / "staged")
    )
    for name in ("BILLFLOW_WAREHOUSE_PATH", "BILLFLOW_SERVING_PATH", "BILLFLOW_SERVING_CONN_ID"):
        os.environ.pop(name, None)

    from billflow.orchestration.runner import run_daily_load

    print(f"bench: {args.rows:,} raw lines, {os.cpu_count()} cores", file=sys.stderr)
    started = time.perf_counter()
    outcome = run_daily_load()
    total = time.perf_counter() - started
    for task in outcome.tasks:
        name = f"{task.task_id} {task.label}".strip()
        print(f"  {name:<48} {task.seconds:8.2f} s  {task.state}", file=sys.stderr)
    plan = outcome.returns["plan_release"]
    raw_lines = sum(candidate["raw_rows"] for candidate in plan["candidates"])
    print(
        json.dumps(
            {
                "raw_lines": raw_lines,
                "staged_rows": sum(candidate["staged_rows"] for candidate in plan["candidates"]),
                "published_rows": outcome.returns["publish_to_serving"],
                "seconds_total": round(total, 2),
                "seconds_in_tasks": round(sum(task.seconds for task in outcome.tasks), 2),
                "lines_per_second": round(raw_lines / total),
                "peak_rss_mib": round(_peak_rss_mib()),
                "tasks": {f"{t.task_id} {t.label}".strip(): round(t.seconds, 2) for t in outcome.tasks},
            },
            indent=2,
        )
    )
    return 0

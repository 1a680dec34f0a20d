"""`billflow bench`: time a month of CUR from the landing zone to the serving marts, stage by stage.

Runs the same steps as the daily DAG (stage, gate, promote, dbt warehouse, publish, dbt serving) in one
process without Airflow, on the embedded engines, so the figures show the engines' own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time a generated month from landing zone to serving marts")
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw CUR lines to generate (default 10M)")
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="work folder (default .bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=run)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, label: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - started
        self.rows.append((label, seconds, _peak_rss_mib()))
        print(f"  {label:<28} {seconds:8.2f} s   peak RSS {_peak_rss_mib():7.0f} MiB", file=sys.stderr)
        return result


def _landing(work: Path, rows: int, seed: int) -> Path:
    """Generate the month once; later runs reuse it when the options match."""
    from billflow.formats.generator import generate_cur

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


def run(args: argparse.Namespace) -> int:
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing = _landing(work, args.rows, args.seed)
    home = work / "run"
    shutil.rmtree(home, ignore_errors=True)
    os.environ.update(
        BILLFLOW_HOME=str(home), BILLFLOW_LANDING_URI=str(landing), BILLFLOW_STAGED_URI=str(home / "staged")
    )
    for name in ("BILLFLOW_WAREHOUSE_PATH", "BILLFLOW_SERVING_PATH", "BILLFLOW_SERVING_CONN_ID"):
        os.environ.pop(name, None)

    from billflow.config import load_settings
    from billflow.pipeline import run_daily_load

    settings = load_settings()
    timer = Timer()
    total_started = time.perf_counter()
    print(f"bench: {args.rows:,} raw lines, {os.cpu_count()} cores", file=sys.stderr)
    report = run_daily_load(settings, step=timer)
    total = time.perf_counter() - total_started
    print(
        json.dumps(
            {
                "raw_lines": report.raw_rows,
                "staged_rows": report.staged_rows,
                "published_rows": report.published_rows,
                "seconds_total": round(total, 2),
                "lines_per_second": round(report.raw_rows / total),
                "peak_rss_mib": round(_peak_rss_mib()),
                "steps": {label: round(seconds, 2) for label, seconds, _ in timer.rows},
            },
            indent=2,
        )
    )
    return 0

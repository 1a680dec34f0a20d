"""`python -m billflow_dev bench`: time a generated month of CUR from the landing zone to the serving marts.

Runs the daily DAG itself (billflow.orchestration.runner: dag.test() in this process, the embedded
engines) and reports each step's time from the run's task instances, beside a floor measured in the same
run on the same data: what the bare engine takes for the same job with none of billflow's checks.

* stage: a bare DuckDB aggregate of the same raw files to the staged grain, written to Parquet;
* gate: a DuckDB sum scan of the staged partition by line item type (the raw totals the gate compares);
* dbt builds: one `dbt run` of the same models without their tests, on a copy of what the build made.

The process is warmed before the clock starts (Airflow's in-process task API, dbt, Great Expectations
imported; an empty daily run) and dbt keeps its parse state between bench runs, as a deployment does
between days: the figures are a day's load, not a first start. The warm-up is reported apart. After the
load a second daily run finds nothing new: its task time is the no-delivery figure.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SHAPES = ("small", "realistic")
# the generated month of each shape: the realistic one is the generator's (10 payers, 2,000 linked accounts in
# all, spread unevenly, a real month's variety of services, usage types and resources)
SHAPE_OPTIONS: dict[str, dict[str, Any]] = {
    "small": {"payers": 2, "accounts": 8},
    "realistic": {"shape": "realistic"},
}

# the report's steps, each the DAG tasks it folds (mapped tasks summed over their partitions)
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sense", ("sense_new_deliveries",)),
    ("begin run", ("begin_run",)),
    ("stage", ("stage_partition.stage",)),
    ("gate", ("stage_partition.gate",)),
    ("plan, prepare warehouse", ("plan_release", "register_staged_partitions", "prepare_warehouse")),
    ("dbt build warehouse", ("dbt_build_warehouse",)),
    ("publish to serving", ("publish_to_serving",)),
    ("dbt build serving", ("dbt_build_serving",)),
    ("release", ("release",)),
    ("export FOCUS", ("export_focus",)),
    ("finish", ("publish_portal", "finish_load")),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time a generated month from landing zone to serving marts")
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw CUR lines to generate (default 10M)")
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="small",
        help="small: 2 payers, 8 linked accounts each; realistic: 10 payers, 2,000 linked accounts, a real "
        "month's variety of usage types and resources (default small)",
    )
    parser.add_argument("--dir", type=Path, default=Path(".bench"), help="work folder (default .bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.set_defaults(func=run)


# ---------------------------------------------------------------- the month


def generated_month(work: Path, rows: int, seed: int, shape: str = "small") -> Path:
    """The generated month of the bench (and athena-scan) in `work`: generated once, reused while the options match."""
    from billflow_dev.generator import generate_cur

    options = {"period": "2026-09", "rows": rows, "seed": seed, "fmt": "mixed", **SHAPE_OPTIONS[shape]}
    name = "landing" if shape == "small" else f"landing-{shape}"
    landing, marker = work / name, work / f"{name}.json"
    if marker.exists() and json.loads(marker.read_text()) == options:
        return landing
    shutil.rmtree(landing, ignore_errors=True)
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    generate_cur(landing, final=True, **options)
    _say(f"generated {rows:,} lines ({shape}) in {time.perf_counter() - started:.1f} s")
    marker.write_text(json.dumps(options))
    return landing


# ---------------------------------------------------------------- memory


class RssSampler:
    """The process's resident memory, sampled every 20 ms on a thread: the peak within any time window."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._samples.append((time.time(), self._process.memory_info().rss))
            self._stop.wait(self._interval)

    def peak_mib(self, start: float, end: float) -> float:
        inside = [rss for at, rss in list(self._samples) if start <= at <= end]
        return round(max(inside, default=0) / 2**20, 1)


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class StepFigure:
    step: str
    seconds: float
    rows: int  # what the step reads: raw lines, staged rows, mart rows
    peak_rss_mib: float
    floor_seconds: float | None = None
    partitions: int = 0

    @property
    def rows_per_second(self) -> int:
        return round(self.rows / self.seconds) if self.seconds > 0 else 0

    @property
    def ratio(self) -> float | None:
        return round(self.seconds / self.floor_seconds, 1) if self.floor_seconds else None


def step_figures(
    tasks: Sequence[Any], rows: dict[str, int], floors: dict[str, float], rss: RssSampler | None
) -> list[StepFigure]:
    """One figure per report step from the run's task instances (those the run had)."""
    figures = []
    for step, task_ids in STEPS:
        mine = [t for t in tasks if t.task_id in task_ids]
        if not mine:
            continue
        windows = [(t.started.timestamp(), t.ended.timestamp()) for t in mine if t.started and t.ended]
        peak = max((rss.peak_mib(start, end) for start, end in windows), default=0.0) if rss else 0.0
        figures.append(
            StepFigure(
                step,
                round(sum(t.seconds for t in mine), 2),
                rows.get(step, 0),
                peak,
                floors.get(step),
                partitions=len(mine) if any(t.label for t in mine) else 0,
            )
        )
    return figures


def format_table(figures: Sequence[StepFigure]) -> str:
    header = f"{'step':<26} {'seconds':>8} {'rows':>12} {'rows/s':>12} {'peak RSS':>10} {'floor s':>8} {'ratio':>6}"
    lines = [header, "-" * len(header)]
    for f in figures:
        floor = f"{f.floor_seconds:8.2f}" if f.floor_seconds else f"{'':>8}"
        ratio = f"{f.ratio:5.1f}x" if f.ratio is not None else f"{'':>6}"
        lines.append(
            f"{f.step:<26} {f.seconds:8.2f} {f.rows:>12,} {f.rows_per_second:>12,} "
            f"{f.peak_rss_mib:>7.0f} MiB {floor} {ratio}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- floors


def _duckdb(threads: int | None = None):
    import duckdb

    con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
    con.execute("set timezone = 'UTC'")
    return con


def _quoted(paths: Sequence[str]) -> str:
    from billflow.engines.sql import quote_literal

    return "[" + ", ".join(quote_literal(path) for path in paths) + "]"


def stage_floor_seconds(landing: Path, payer_ids: Sequence[str], scratch: Path) -> float:
    """The bare aggregate of each payer's raw files to the staged grain, written to Parquet, summed over payers:
    the same group-by and sums as staging, with none of its typing, amortization, checks or tag costs."""
    con = _duckdb()
    total = 0.0
    for payer in payer_ids:
        files = sorted(glob.glob(str(landing / payer / "**" / "*.parquet"), recursive=True))
        columns = {
            row[0]
            for row in con.execute(
                f"describe select * from read_parquet({_quoted(files)}, union_by_name = true)"
            ).fetchall()
        }
        region = "product_region" if "product_region" in columns else "product_region_code"
        sql = f"""
            select
                bill_billing_period_start_date, bill_payer_account_id, line_item_usage_account_id,
                cast(line_item_usage_start_date as date) as usage_date, line_item_line_item_type,
                line_item_product_code, line_item_usage_type, line_item_operation, {region}, pricing_unit,
                line_item_currency_code, bill_bill_type, bill_invoice_id,
                coalesce(savings_plan_savings_plan_a_r_n, reservation_reservation_a_r_n) as commitment_arn,
                sum(line_item_usage_amount), sum(line_item_unblended_cost), sum(pricing_public_on_demand_cost),
                count(*)
            from read_parquet({_quoted(files)}, union_by_name = true)
            group by all
        """
        out = scratch / f"floor-stage-{payer}.parquet"
        started = time.perf_counter()
        con.execute(f"copy ({sql}) to '{out}' (format parquet, compression zstd)")
        total += time.perf_counter() - started
    con.close()
    return round(total, 2)


def gate_floor_seconds(staged_files: Sequence[str]) -> float:
    """A sum scan of each staged partition by line item type, summed over partitions."""
    con = _duckdb()
    started = time.perf_counter()
    for path in staged_files:
        con.execute(
            "select line_item_type, sum(unblended_cost), sum(amortized_cost), sum(line_item_count), count(*) "
            f"from read_parquet('{path}') group by 1"
        ).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    return round(seconds, 2)


def dbt_run_floor_seconds(settings: Any, build: str, scratch: Path) -> float:
    """`dbt run` of the build's models (no seeds, no tests) on a copy of the database the build made."""
    from billflow.orchestration.steps import DBT_BUILDS, environment_set
    from billflow.warehouse.dbt import invoke_dbt

    select, target = DBT_BUILDS[build]
    source = settings.warehouse_path if build == "warehouse" else settings.serving_path
    copy = scratch / f"floor-{build}.duckdb"
    shutil.copyfile(source, copy)
    variable = "BILLFLOW_WAREHOUSE_BUILD_PATH" if build == "warehouse" else "BILLFLOW_SERVING_PATH"
    args = ["run", "--select", select, "--target", target, "--quiet", "--no-write-json"]
    args += ["--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_profiles_dir)]
    # a target folder of its own, kept between bench runs like the product's: dbt parses once
    args += ["--target-path", str(settings.home / "dbt-target" / f"floor-{build}")]
    with environment_set(**{variable: str(copy)}):
        invoke_dbt(["parse", "--target", target, *args[args.index("--quiet") :]])  # parse state for the timed run
        started = time.perf_counter()
        result = invoke_dbt(args)
        seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError(f"the floor's dbt run of {build} failed: {result.exception}")
    copy.unlink()
    return round(seconds, 2)


# ---------------------------------------------------------------- the run


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


def _fresh_home(home: Path) -> None:
    """An empty billflow home that keeps dbt's parse state (its target folders) from the last bench run."""
    kept = home.with_name(home.name + "-dbt-target")
    shutil.rmtree(kept, ignore_errors=True)
    if (home / "dbt-target").is_dir():
        shutil.move(home / "dbt-target", kept)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    if kept.is_dir():
        shutil.move(kept, home / "dbt-target")


def warm_up(empty_landing: Path) -> float:
    """What a long-running worker has loaded before its first task: the daily DAG run once with nothing to load
    (Airflow's in-process task API), dbt and Great Expectations imported."""
    from billflow.orchestration.runner import run_daily_load
    from billflow.orchestration.steps import environment_set

    started = time.perf_counter()
    empty_landing.mkdir(parents=True, exist_ok=True)
    with environment_set(BILLFLOW_LANDING_URI=str(empty_landing)):
        run_daily_load()
    import dbt.cli.main  # noqa: F401
    import great_expectations  # noqa: F401

    return round(time.perf_counter() - started, 2)


_REPORT = sys.stdout


def _say(text: str) -> None:
    print(text, file=_REPORT, flush=True)


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Everything the run writes on stdout and stderr (Airflow's and dbt's logs) goes to `path`; the bench's
    own lines (_say) still reach the terminal."""
    global _REPORT
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    _REPORT = os.fdopen(os.dup(1), "w")
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        _REPORT.close()
        _REPORT = sys.stdout


def run(args: argparse.Namespace) -> int:
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    print(f"logs of the run: {log}", flush=True)
    with _logs_to(log):
        return _bench(args, work)


def _bench(args: argparse.Namespace, work: Path) -> int:
    landing = generated_month(work, args.rows, args.seed, args.shape)
    _airflow_home(work)
    home = work / "run"
    _fresh_home(home)
    os.environ.update(BILLFLOW_HOME=str(home), BILLFLOW_STAGED_URI=str(home / "staged"))
    for name in ("BILLFLOW_WAREHOUSE_PATH", "BILLFLOW_SERVING_PATH", "BILLFLOW_SERVING_CONN_ID"):
        os.environ.pop(name, None)

    from billflow.config import load_settings
    from billflow.orchestration.runner import run_daily_load

    _say(f"bench: {args.rows:,} raw lines ({args.shape}), {os.cpu_count()} cores; warming up")
    warm_seconds = warm_up(home / "empty-landing")
    os.environ["BILLFLOW_LANDING_URI"] = str(landing)
    _say("loading the month (the daily DAG in this process)")
    with RssSampler() as rss:
        started = time.perf_counter()
        outcome = run_daily_load()
        total = time.perf_counter() - started
        _say("a second daily run, with no new delivery")
        idle = run_daily_load()
    settings = load_settings()
    _say("floors: the bare engine on the same data")

    plan = outcome.returns["plan_release"]
    candidates = plan["candidates"]
    raw_lines = sum(c["raw_rows"] for c in candidates)
    staged_rows = sum(c["staged_rows"] for c in candidates)
    published = outcome.returns["publish_to_serving"]
    mart_rows = sum(published.values())
    scratch = home / "floors"
    scratch.mkdir()
    staged_files = [str(path) for path in sorted((home / "staged").glob("**/cur_daily/**/*.parquet"))]
    floors = {
        "stage": stage_floor_seconds(landing, sorted({c["delivery"]["payer_account_id"] for c in candidates}), scratch),
        "gate": gate_floor_seconds(staged_files),
        "dbt build warehouse": dbt_run_floor_seconds(settings, "warehouse", scratch),
        "dbt build serving": dbt_run_floor_seconds(settings, "serving", scratch),
    }
    rows = {
        "stage": raw_lines,
        "gate": staged_rows,
        "plan, prepare warehouse": staged_rows,
        "dbt build warehouse": staged_rows,
        "publish to serving": mart_rows,
        "dbt build serving": mart_rows,
    }
    figures = step_figures(outcome.tasks, rows, floors, rss)
    idle_seconds = round(sum(t.seconds for t in idle.tasks), 2)
    gate = next((f for f in figures if f.step == "gate"), None)

    peak = rss.peak_mib(0, time.time())
    _say(format_table(figures))
    _say(
        f"\nlanding zone to serving marts: {total:.2f} s for {raw_lines:,} raw lines "
        f"({raw_lines / total:,.0f} lines/s), "
        f"{staged_rows:,} staged rows, {mart_rows:,} mart rows; peak RSS {peak:,.0f} MiB"
    )
    if gate is not None and gate.partitions:
        _say(f"gate per partition: {gate.seconds / gate.partitions:.2f} s")
    _say(f"a daily run with no new delivery: {idle_seconds:.2f} s of task time")
    _say(f"warm-up before the clock (not counted): {warm_seconds:.2f} s")
    summary = {
        "shape": args.shape,
        "cores": os.cpu_count(),
        "raw_lines": raw_lines,
        "staged_rows": staged_rows,
        "mart_rows": published,
        "seconds_total": round(total, 2),
        "seconds_in_tasks": round(sum(task.seconds for task in outcome.tasks), 2),
        "lines_per_second": round(raw_lines / total),
        "peak_rss_mib": peak,
        "no_delivery_run_task_seconds": idle_seconds,
        "warm_up_seconds": warm_seconds,
        "steps": [
            {
                "step": f.step,
                "seconds": f.seconds,
                "rows": f.rows,
                "rows_per_second": f.rows_per_second,
                "peak_rss_mib": f.peak_rss_mib,
                "floor_seconds": f.floor_seconds,
                "ratio_to_floor": f.ratio,
                "partitions": f.partitions,
            }
            for f in figures
        ],
        "tasks": {f"{t.task_id} {t.label}".strip(): round(t.seconds, 2) for t in outcome.tasks},
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        _say(f"figures written to {args.json}")
    return 0

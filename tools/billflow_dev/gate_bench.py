"""`python -m billflow_dev gate-bench`: time the staging gate on one generated staged partition.

Writes a staged version of one (payer, period) with --rows staged rows (DuckDB generates them straight in
the staged schema), its raw totals and a clean raw inspection, then gates it the way the daily load does
(billflow.orchestration.steps.gate_partition) --repeat times in this process. The first run pays the
Great Expectations import; the later runs are what a partition costs after start-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

PAYER = "111111111111"
PERIOD = dt.date(2026, 9, 1)

# One staged row per (row number): a few accounts, every day of the month, the common line item types.
_STAGED_SQL = """
select
    date '2026-09-01' as billing_period,
    '111111111111' as payer_account_id,
    (100000000000 + i % 40)::varchar as usage_account_id,
    date '2026-09-01' + (i % 30)::integer as usage_date,
    ['Usage', 'Usage', 'Usage', 'Tax', 'Credit', 'SavingsPlanCoveredUsage'][1 + i % 6] as line_item_type,
    'Amazon' || (i % 97)::varchar as product_code,
    'Usage:' || (i % 1009)::varchar as usage_type,
    'Run' || (i % 13)::varchar as operation,
    'us-east-' || (i % 2)::varchar as region,
    'Product ' || (i % 97)::varchar as product_name,
    'Hrs' as pricing_unit,
    'USD' as currency_code,
    'Anniversary' as bill_type,
    null::varchar as invoice_id,
    null::varchar as commitment_arn,
    ((i % 1000) / 7)::decimal(38, 10) as usage_amount,
    ((i % 10007) / 3)::decimal(38, 10) as unblended_cost,
    ((i % 10007) / 3)::decimal(38, 10) as amortized_cost,
    ((i % 10007) / 3)::decimal(38, 10) as public_on_demand_cost,
    1 + i % 5 as line_item_count,
    'bench-0001' as manifest_id,
    'legacy' as source_format
from range({rows}) as r(i)
"""

# Every staged row under each configured tag key, untagged (what staging writes for lines without the tag).
_TAGS_SQL = """
select billing_period, payer_account_id, usage_account_id, usage_date, line_item_type, product_code, usage_type,
       k.tag_key, null::varchar as tag_value, unblended_cost, amortized_cost, line_item_count, manifest_id
from read_parquet({path}) cross join (select unnest({keys}) as tag_key) as k
"""

_RAW_TOTALS_SQL = """
select line_item_type, sum(line_item_count)::bigint as raw_row_count,
       sum(unblended_cost)::decimal(38, 10) as unblended_cost, sum(amortized_cost)::decimal(38, 10) as amortized_cost
from read_parquet({path}) group by line_item_type order by line_item_type
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gate-bench", help="time the staging gate on one generated staged partition")
    parser.add_argument("--rows", type=int, default=1_000_000, help="staged rows of the partition (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="gate runs in this process (default 3)")
    parser.add_argument("--dir", type=Path, default=Path(".bench-gate"), help="work folder (default .bench-gate)")
    parser.set_defaults(func=run)


def _write_version(home: Path, rows: int, tag_keys: tuple[str, ...]) -> Any:
    """A staged version (VersionRef) as stage_delivery leaves it: staged rows, cost by tag, raw totals, raw
    checks; the raw totals are the staged rows' own, so the version passes the gate."""
    import duckdb

    from billflow.engines.sql import quote_literal
    from billflow.staging.columns import STAGED_TAG_SCHEMA
    from billflow.staging.raw_checks import RawChecks, TypeLines
    from billflow.staging.stage import table_to_parquet_bytes
    from billflow.staging.versions import VersionRef, new_version_id
    from billflow.storage.local import LocalStore

    store = LocalStore(home / "staged")
    version = VersionRef(PAYER, PERIOD, new_version_id("bench-0001"))
    cost = Path(store.uri(version.cost_key))
    cost.parent.mkdir(parents=True, exist_ok=True)
    path = quote_literal(str(cost))
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    con.execute(f"copy ({_STAGED_SQL.format(rows=rows)}) to {path} (format parquet, compression zstd)")
    totals = con.sql(_RAW_TOTALS_SQL.format(path=path)).to_arrow_table()
    tags = con.sql(_TAGS_SQL.format(path=path, keys=list(tag_keys))).to_arrow_table().cast(STAGED_TAG_SCHEMA)
    con.close()
    store.write_bytes(version.raw_totals_key, table_to_parquet_bytes(totals))
    store.write_bytes(version.tags_key, table_to_parquet_bytes(tags))
    file = f"{PAYER}/bench/data/part-1.parquet"
    lines = totals.to_pylist()
    checks = RawChecks(
        payer_account_id=PAYER,
        billing_period=PERIOD,
        manifest_id="bench-0001",
        manifest_key=f"{PAYER}/bench/20260901-20261001/bench-Manifest.json",
        files=((file, sum(line["raw_row_count"] for line in lines)),),
        line_item_types=tuple(TypeLines(file, line["line_item_type"], line["raw_row_count"]) for line in lines),
    )
    store.write_bytes(version.raw_checks_key, checks.to_json())
    return version


def run(args: argparse.Namespace) -> int:
    from billflow.config import allocation_tag_keys, load_settings
    from billflow.formats.manifest import Delivery
    from billflow.orchestration.steps import Candidate, gate_partition

    work = args.dir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.update(BILLFLOW_HOME=str(work), BILLFLOW_STAGED_URI=str(work / "staged"))
    settings = load_settings()
    started = time.perf_counter()
    tag_keys = allocation_tag_keys(settings.dbt_project_dir / "rules" / "allocation_tag_keys.csv")
    version = _write_version(work, args.rows, tag_keys)
    print(f"wrote {args.rows:,} staged rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    delivery = Delivery(PAYER, PERIOD, "bench-0001", "legacy", "bench", "bench-Manifest.json", ())
    candidate = Candidate(delivery, version.version_id, raw_rows=0, staged_rows=args.rows)
    for run_number in range(1, args.repeat + 1):
        started = time.perf_counter()
        gate_partition(settings, candidate)
        print(f"gate run {run_number}: {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0

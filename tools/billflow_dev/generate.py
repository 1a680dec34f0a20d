"""`python -m billflow_dev generate-cur`: write a month of sample CUR deliveries into a landing zone."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from billflow_dev import generator as g


def _period(value: str) -> str:
    try:
        g.parse_period(value)
    except g.GeneratorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "generate-cur",
        help="write sample CUR deliveries (legacy and/or CUR 2.0) with manifests",
        description=(
            "Write one billing period of sample AWS CUR deliveries, one per payer, into a landing zone "
            "(the bucket root): Parquet data files (snappy) then the manifest. Same options and seed give "
            "byte-identical files."
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="landing root (bucket root) to write into; default: $BILLFLOW_LANDING_URI (local path)",
    )
    p.add_argument("--period", type=_period, required=True, help="billing period YYYY-MM, e.g. 2026-09")
    p.add_argument(
        "--shape",
        choices=g.SHAPE_CHOICES,
        default="small",
        help=(
            "small (default): few accounts, services and usage types, the staged rows hardly grow with the rows; "
            "realistic: 10 payers, 2000 linked accounts in all, 32 services, 16 regions, thousands of usage "
            "types, resources in the hundreds of thousands at 100M rows (10M rows: ~1.3M staged rows, "
            "100M: ~7.4M)"
        ),
    )
    p.add_argument(
        "--payers",
        type=_positive,
        default=None,
        help=f"payer accounts (1..{g.MAX_PAYERS}; default 2, realistic shape 10)",
    )
    accounts = p.add_mutually_exclusive_group()
    accounts.add_argument(
        "--accounts", type=_positive, default=None, help="linked accounts per payer (default 4 in the small shape)"
    )
    accounts.add_argument(
        "--linked-accounts",
        type=_positive,
        default=None,
        help=(
            f"linked accounts in all, spread unevenly over the payers (up to {g.MAX_ACCOUNTS}; "
            "default 2000 in the realistic shape)"
        ),
    )
    p.add_argument(
        "--days",
        type=_positive,
        default=None,
        help="days of the month covered from day 1 (month-to-date); default: the whole month",
    )
    p.add_argument(
        "--rows",
        type=_positive,
        default=100_000,
        help="target total row count across payers (approximate; default 100000)",
    )
    p.add_argument("--seed", type=_non_negative, default=7, help="random seed (default 7)")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=g.FORMAT_CHOICES,
        default="mixed",
        help="legacy, cur2, or mixed (odd payers legacy, even payers CUR 2.0; default)",
    )
    p.add_argument(
        "--redeliver",
        action="store_true",
        help="re-deliver the month: same keys, new assemblyId/executionId, changed figures",
    )
    p.add_argument("--final", action="store_true", help="fill bill_invoice_id (a final month)")
    p.add_argument(
        "--rows-per-file",
        type=_positive,
        default=g.DEFAULT_ROWS_PER_FILE,
        help=f"maximum rows per data file (default {g.DEFAULT_ROWS_PER_FILE})",
    )
    p.add_argument(
        "--bucket",
        default=g.DEFAULT_BUCKET,
        help=f"bucket name written into the manifests (default {g.DEFAULT_BUCKET})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run, _parser=p)  # fmt: skip
    return p


def _default_out(parser: argparse.ArgumentParser) -> Path:
    from billflow.config import load_settings

    uri = load_settings().landing_uri
    if "://" in uri:
        parser.error(f"BILLFLOW_LANDING_URI is {uri}: the generator writes local files, pass --out DIR")
    return Path(uri)


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._parser
    out = args.out if args.out is not None else _default_out(parser)

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.monotonic()
    try:
        result = g.generate_cur(
            out,
            period=args.period,
            payers=args.payers,
            accounts=args.accounts,
            linked_accounts=args.linked_accounts,
            shape=args.shape,
            days=args.days,
            rows=args.rows,
            seed=args.seed,
            fmt=args.fmt,
            redeliver=args.redeliver,
            final=args.final,
            rows_per_file=args.rows_per_file,
            bucket=args.bucket,
            progress=progress,
        )
    except g.GeneratorError as exc:
        parser.error(str(exc))
    elapsed = time.monotonic() - started

    print(
        f"generated {result.total_rows:,} rows for {result.period} ({result.days} days, {result.shape} shape) "
        f"into {result.out_dir} "
        f"in {elapsed:.1f}s{' (redelivery)' if result.redeliver else ''}{' (final)' if result.final else ''}"
    )
    for d in result.deliveries:
        print(
            f"  payer {d.payer_account_id} [{d.source_format}] {d.report_name}: {d.row_count:,} rows, "
            f"{len(d.data_keys)} file(s), manifest id {d.manifest_id}, unblended {d.unblended_cost} USD"
        )
        print(f"    manifest: {d.manifest_path}")
    return 0

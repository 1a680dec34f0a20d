"""`billflow invoices`: print every customer's invoice from the serving database."""

from __future__ import annotations

import argparse
from datetime import date, datetime


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("invoices", help="print the invoices of the serving database")
    parser.add_argument(
        "--by-rule",
        metavar="YYYY-MM",
        type=billing_month,
        help="also split each invoice of this billing period by the rule behind its lines",
    )
    parser.set_defaults(func=run)


def billing_month(value: str) -> date:
    """A billing period given as YYYY-MM: the first day of that month."""
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a billing month (YYYY-MM, e.g. 2026-10)") from None


def run(args: argparse.Namespace) -> int:
    from billflow.billing.report import fetch_amounts_by_rule, fetch_invoices, format_invoice_table, format_rule_table
    from billflow.config import load_settings
    from billflow.engines.factory import serving_database

    settings = load_settings()
    if settings.serving_conn_id is None and not settings.serving_path.exists():
        print(f"no serving database at {settings.serving_path}: run the daily load first (make demo)")
        return 1
    db = serving_database(settings)
    try:
        rows = fetch_invoices(db)
        by_rule = fetch_amounts_by_rule(db, args.by_rule) if args.by_rule else []
    finally:
        db.close()
    print(format_invoice_table(rows))
    if args.by_rule:
        print(f"\n{args.by_rule:%Y-%m} by rule (rules: dbt_project/rules, see docs/BILLING_RULES.md):")
        print(format_rule_table(by_rule))
    where = settings.serving_conn_id or settings.serving_path
    print(f"\nserving marts: {where} (schema billing: invoices, invoice_lines, daily_costs)")
    if settings.serving_conn_id is None:
        print(f"warehouse marts: {settings.warehouse_path} (schema marts)")
    return 0

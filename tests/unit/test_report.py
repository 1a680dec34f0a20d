"""The invoice summary finance reads: totals per invoice and, for one month, amounts per rule."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billflow.billing.report import fetch_amounts_by_rule, format_rule_table
from billflow.cli.invoices import billing_month
from billflow.engines.duckdb_database import DuckDBDatabase

LINES = [
    # customer, period, product, category, rule, currency, amount
    ("acme", "2026-10-01", "AmazonEC2", "usage", "acme-markup", "USD", "100.10"),
    ("acme", "2026-10-01", "AmazonS3", "usage", "acme-markup", "USD", "0.25"),
    ("acme", "2026-10-01", "AWSSupportBusiness", "support", "support_reallocation", "USD", "12.00"),
    ("umbrella", "2026-10-01", "AmazonEC2", "usage", "umbrella-discount", "KRW", "1392100.00"),
    ("acme", "2026-11-01", "AmazonEC2", "usage", "acme-markup", "USD", "999.99"),
]


@pytest.fixture
def serving(tmp_path: Path):
    db = DuckDBDatabase(tmp_path / "serving.duckdb")
    db.execute("create schema billing")
    db.execute(
        "create table billing.invoice_lines (customer_id varchar, billing_period date, product_code varchar, "
        "charge_category varchar, pricing_rule_id varchar, currency_code varchar, amount decimal(18, 2))"
    )
    for line in LINES:
        db.execute("insert into billing.invoice_lines values (?, ?, ?, ?, ?, ?, ?)", line)
    yield db
    db.close()


def test_amounts_by_rule_sum_the_lines_of_one_month_per_customer_and_rule(serving) -> None:
    rows = fetch_amounts_by_rule(serving, date(2026, 10, 1))

    assert [(r.customer_id, r.pricing_rule_id, r.line_count, r.amount, r.currency_code) for r in rows] == [
        ("acme", "support_reallocation", 1, Decimal("12.00"), "USD"),
        ("acme", "acme-markup", 2, Decimal("100.35"), "USD"),
        ("umbrella", "umbrella-discount", 1, Decimal("1392100.00"), "KRW"),
    ]
    assert format_rule_table(rows).splitlines() == [
        "customer  category  rule                  lines     amount  cur",
        "--------  --------  --------------------  -----  ---------  ---",
        "acme      support   support_reallocation      1      12.00  USD",
        "acme      usage     acme-markup               2     100.35  USD",
        "umbrella  usage     umbrella-discount         1  1,392,100  KRW",
    ]


def test_a_billing_month_is_read_as_yyyy_mm_and_anything_else_is_refused() -> None:
    assert billing_month("2026-10") == date(2026, 10, 1)
    with pytest.raises(argparse.ArgumentTypeError, match="'2026/10' is not a billing month"):
        billing_month("2026/10")

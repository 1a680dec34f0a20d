"""The migration of earlier versions' `billing_control.locked_invoice_lines` (rule 11): the same assertions on
every serving Database adapter (DuckDB here, PostgreSQL in tests/integration/test_postgres_serving.py).

The restatement itself (locked lines vs published lines -> adjustment lines) is the dbt model
serving_restatement_adjustments alone: its cases are dbt unit tests in
dbt_project/models/serving/_serving__models.yml. A migrated lock must not look restated to it: its lines
must keep the exact line keys (product_code, charge_category, pricing_rule_id, currency_code) and amounts
of the published lines they were locked from, which is what these tests check.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from billflow.control.schema import LOCKED_INVOICE_LINES_COLUMNS, ensure_control_tables, table_columns

AUG, SEPT = date(2026, 8, 1), date(2026, 9, 1)
AMOUNT = pa.decimal128(18, 2)

# (product_code, charge_category, pricing_rule_id, line_source, amount) of acme's September lines; USD
PublishedLine = tuple[str, str, str, str, str]


def publish_september(serving, lines: list[PublishedLine]) -> None:
    """acme's September invoice lines in the live published marts (what the migration reads)."""
    serving.replace_tables(
        "published",
        {
            "invoice_lines": pa.table(
                {
                    "customer_id": ["acme"] * len(lines),
                    "billing_period": [SEPT] * len(lines),
                    "product_code": [line[0] for line in lines],
                    "charge_category": [line[1] for line in lines],
                    "pricing_rule_id": [line[2] for line in lines],
                    "line_source": [line[3] for line in lines],
                    "currency_code": ["USD"] * len(lines),
                    "amount": pa.array([Decimal(line[4]) for line in lines], AMOUNT),
                }
            )
        },
    )


def line_keys(serving, table: str) -> list[tuple]:
    """(product_code, charge_category, pricing_rule_id, currency_code, line_source, amount) of acme's
    September lines."""
    return serving.fetch_all(
        f"select product_code, charge_category, pricing_rule_id, currency_code, line_source, amount from {table} "
        "where customer_id = 'acme' and billing_period = ? order by 1, 2, 3",
        (SEPT,),
    )


# the locked_invoice_lines of earlier versions
PREVIOUS_VERSION_DDL = """create table billing_control.locked_invoice_lines (
    customer_id varchar not null,
    billing_period date not null,
    product_code varchar not null,
    charge_category varchar not null,
    pricing_rule_id varchar not null,
    currency_code varchar not null,
    amount decimal(18, 2) not null,
    primary key (customer_id, billing_period, product_code, charge_category, pricing_rule_id)
)"""
VERSION_WITHOUT_RULES_DDL = """create table billing_control.locked_invoice_lines (
    customer_id varchar not null,
    billing_period date not null,
    product_code varchar not null,
    charge_category varchar not null,
    currency_code varchar not null,
    amount decimal(18, 2) not null,
    primary key (customer_id, billing_period, product_code, charge_category)
)"""


def lock_by_hand(serving, customer: str, period: date, total: str) -> None:
    """A lock of an earlier version (no release id)."""
    serving.execute(
        "insert into billing_control.invoice_locks (customer_id, billing_period, invoice_number, currency_code, "
        "total_amount, locked_at, release_id) values (?, ?, ?, 'USD', ?, ?, null)",
        (customer, period, f"BF-{period:%Y%m}-0001", Decimal(total), datetime(2026, 10, 8)),
    )


def test_locked_lines_of_the_previous_version_are_migrated_and_not_restated(serving):
    serving.execute("drop table billing_control.locked_invoice_lines")
    serving.execute(PREVIOUS_VERSION_DDL)
    lock_by_hand(serving, "acme", SEPT, "11.00")
    for product, category, rule, amount in [
        ("AmazonEC2", "usage", "list-price", "7.00"),
        ("CUSTOM:acme-fee", "fee", "acme-fee", "3.00"),
        ("TAX", "tax", "tax_rate", "1.00"),
    ]:
        serving.execute(
            "insert into billing_control.locked_invoice_lines values ('acme', ?, ?, ?, ?, 'USD', ?)",
            (SEPT, product, category, rule, Decimal(amount)),
        )

    ensure_control_tables(serving)
    ensure_control_tables(serving)  # idempotent

    assert table_columns(serving, "billing_control", "locked_invoice_lines") == list(LOCKED_INVOICE_LINES_COLUMNS)
    assert serving.fetch_all(
        "select product_code, charge_category, pricing_rule_id, currency_code, amount, line_source, "
        "adjusts_billing_period from billing_control.locked_invoice_lines order by product_code"
    ) == [
        ("AmazonEC2", "usage", "list-price", "USD", Decimal("7.00"), "aws", None),
        ("CUSTOM:acme-fee", "fee", "acme-fee", "USD", Decimal("3.00"), "custom", None),
        ("TAX", "tax", "tax_rate", "USD", Decimal("1.00"), "tax", None),
    ]
    # the new key: an adjustment line beside an own line of the same product, category and rule ...
    insert = (
        "insert into billing_control.locked_invoice_lines values "
        "('acme', ?, 'AmazonEC2', 'usage', 'list-price', 'USD', ?, 'adjustment', ?)"
    )
    serving.execute(insert, (SEPT, Decimal("0.50"), AUG))
    # ... but not twice for the same adjusted period
    with pytest.raises(Exception, match=r"(?i)constraint|duplicate|unique"):
        serving.execute(insert, (SEPT, Decimal("0.50"), AUG))
    serving.execute("delete from billing_control.locked_invoice_lines where adjusts_billing_period is not null")
    # an unchanged invoice does not look restated after the migration: its locked lines are its published
    # lines, key for key, with their line source (serving_restatement_adjustments compares per line key)
    publish_september(
        serving,
        [
            ("AmazonEC2", "usage", "list-price", "aws", "7.00"),
            ("CUSTOM:acme-fee", "fee", "acme-fee", "custom", "3.00"),
            ("TAX", "tax", "tax_rate", "tax", "1.00"),
        ],
    )
    assert line_keys(serving, "billing_control.locked_invoice_lines") == line_keys(serving, "published.invoice_lines")


def test_locked_lines_without_pricing_rules_get_the_rule_of_their_only_published_line(serving):
    serving.execute("drop table billing_control.locked_invoice_lines")
    serving.execute(VERSION_WITHOUT_RULES_DDL)
    lock_by_hand(serving, "acme", SEPT, "10.00")
    for product, amount in [("AmazonEC2", "7.00"), ("AmazonS3", "3.00")]:
        serving.execute(
            "insert into billing_control.locked_invoice_lines values ('acme', ?, ?, 'usage', 'USD', ?)",
            (SEPT, product, Decimal(amount)),
        )
    # published now: EC2 under one rule; S3 split over two rules (the lock cannot say which)
    publish_september(
        serving,
        [
            ("AmazonEC2", "usage", "acme-markup", "aws", "7.00"),
            ("AmazonS3", "usage", "s3-tier-1", "aws", "2.00"),
            ("AmazonS3", "usage", "s3-tier-2", "aws", "1.00"),
        ],
    )

    ensure_control_tables(serving)

    # EC2 keeps the published key (not restated); S3 is 'unrecorded': the dbt model then shows the locked
    # line and the published ones per rule, adding up to the exact difference (unit test
    # locked_lines_of_an_unrecorded_rule_are_compared_per_rule)
    assert serving.fetch_all(
        "select product_code, charge_category, pricing_rule_id, currency_code, line_source, adjusts_billing_period, "
        "amount from billing_control.locked_invoice_lines order by product_code"
    ) == [
        ("AmazonEC2", "usage", "acme-markup", "USD", "aws", None, Decimal("7.00")),
        ("AmazonS3", "usage", "unrecorded", "USD", "aws", None, Decimal("3.00")),
    ]

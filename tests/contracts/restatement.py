"""Restatement after lock (rule 11) and the migration of earlier control tables: the same assertions on
every serving Database adapter (DuckDB here, PostgreSQL in tests/integration/test_postgres_serving.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from billflow.billing.close import Adjustment, lock_final_invoices, restatement_adjustments
from billflow.control.schema import LOCKED_INVOICE_LINES_COLUMNS, ensure_control_tables, table_columns

AUG, SEPT, OCT, NOV = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
AMOUNT = pa.decimal128(18, 2)

# (customer, period, product_code, pricing_rule_id, amount); charge category usage, currency USD
Line = tuple[str, date, str, str, str]


def publish(serving, lines: list[Line], final: set[tuple[str, date]], extra_invoices=()) -> None:
    """Publish invoice lines and their invoices (total = sum of the lines); `final`: CUR-final invoices."""
    totals: dict[tuple[str, date], Decimal] = {key: Decimal("0.00") for key in extra_invoices}
    for customer, period, *_, amount in lines:
        totals[(customer, period)] = totals.get((customer, period), Decimal("0.00")) + Decimal(amount)
    keys = sorted(totals)
    invoices = pa.table(
        {
            "customer_id": [c for c, _ in keys],
            "billing_period": [p for _, p in keys],
            "currency_code": ["USD"] * len(keys),
            "total_amount": pa.array([totals[k] for k in keys], AMOUNT),
            "is_cur_final": [k in final for k in keys],
        }
    )
    invoice_lines = pa.table(
        {
            "customer_id": [line[0] for line in lines],
            "billing_period": [line[1] for line in lines],
            "product_code": [line[2] for line in lines],
            "charge_category": ["usage"] * len(lines),
            "pricing_rule_id": [line[3] for line in lines],
            "line_source": ["aws"] * len(lines),
            "currency_code": ["USD"] * len(lines),
            "amount": pa.array([Decimal(line[4]) for line in lines], AMOUNT),
        }
    )
    serving.replace_tables("published", {"invoices": invoices, "invoice_lines": invoice_lines})


def locked_lines(serving, customer: str, period: date) -> list[tuple]:
    return serving.fetch_all(
        "select product_code, line_source, adjusts_billing_period, amount from billing_control.locked_invoice_lines "
        "where customer_id = ? and billing_period = ? order by line_source, product_code",
        (customer, period),
    )


def lock_totals(serving) -> list[tuple]:
    return serving.fetch_all(
        "select customer_id, billing_period, invoice_number, total_amount from billing_control.invoice_locks "
        "order by billing_period, customer_id"
    )


def adjustment(customer, period, adjusts, product, amount, rule="list-price") -> Adjustment:
    return Adjustment(customer, period, adjusts, product, "usage", rule, "USD", Decimal(amount))


def test_the_next_open_invoice_carries_the_restatement_and_freezes_it_when_locked(serving):
    publish(
        serving,
        [("acme", SEPT, "AmazonEC2", "list-price", "100.00"), ("acme", SEPT, "AmazonS3", "list-price", "20.00")],
        {("acme", SEPT)},
    )
    lock_final_invoices(serving, as_of=date(2026, 10, 8), locked_at=datetime(2026, 10, 8))
    # AWS restates September: EC2 +10.50, S3 gone (-20.00), Lambda new (+5.25); October is open
    publish(
        serving,
        [
            ("acme", SEPT, "AmazonEC2", "list-price", "110.50"),
            ("acme", SEPT, "AWSLambda", "list-price", "5.25"),
            ("acme", OCT, "AmazonEC2", "list-price", "70.00"),
        ],
        {("acme", SEPT), ("acme", OCT)},
    )

    assert sorted(restatement_adjustments(serving), key=str) == sorted(
        [
            adjustment("acme", OCT, SEPT, "AWSLambda", "5.25"),
            adjustment("acme", OCT, SEPT, "AmazonEC2", "10.50"),
            adjustment("acme", OCT, SEPT, "AmazonS3", "-20.00"),
        ],
        key=str,
    )

    locked = lock_final_invoices(serving, as_of=date(2026, 11, 8), locked_at=datetime(2026, 11, 8))

    assert [(i.customer_id, i.invoice_number) for i in locked] == [("acme", "BF-202610-0001")]
    # 70.00 + 10.50 - 20.00 + 5.25; September's lock never changes
    assert lock_totals(serving) == [
        ("acme", SEPT, "BF-202609-0001", Decimal("120.00")),
        ("acme", OCT, "BF-202610-0001", Decimal("65.75")),
    ]
    assert locked_lines(serving, "acme", SEPT) == [
        ("AmazonEC2", "aws", None, Decimal("100.00")),
        ("AmazonS3", "aws", None, Decimal("20.00")),
    ]
    assert locked_lines(serving, "acme", OCT) == [
        ("AWSLambda", "adjustment", SEPT, Decimal("5.25")),
        ("AmazonEC2", "adjustment", SEPT, Decimal("10.50")),
        ("AmazonS3", "adjustment", SEPT, Decimal("-20.00")),
        ("AmazonEC2", "aws", None, Decimal("70.00")),
    ]
    assert restatement_adjustments(serving) == []

    # a second restatement: only what the frozen adjustments do not cover yet goes to November
    publish(
        serving,
        [
            ("acme", SEPT, "AmazonEC2", "list-price", "112.00"),  # 112.00 - 100.00 - 10.50 = 1.50
            ("acme", SEPT, "AWSLambda", "list-price", "5.25"),  # 5.25 - 0 - 5.25 = 0
            ("acme", SEPT, "AmazonS3", "list-price", "3.00"),  # 3.00 - 20.00 + 20.00 = 3.00
            ("acme", OCT, "AmazonEC2", "list-price", "70.00"),
            ("acme", NOV, "AmazonEC2", "list-price", "80.00"),
        ],
        {("acme", SEPT), ("acme", OCT), ("acme", NOV)},
    )

    assert sorted(restatement_adjustments(serving), key=str) == [
        adjustment("acme", NOV, SEPT, "AmazonEC2", "1.50"),
        adjustment("acme", NOV, SEPT, "AmazonS3", "3.00"),
    ]
    lock_final_invoices(serving, as_of=date(2026, 12, 8), locked_at=datetime(2026, 12, 8))
    assert lock_totals(serving)[-1] == ("acme", NOV, "BF-202611-0001", Decimal("84.50"))
    assert lock_totals(serving)[:2] == [
        ("acme", SEPT, "BF-202609-0001", Decimal("120.00")),
        ("acme", OCT, "BF-202610-0001", Decimal("65.75")),
    ]
    assert restatement_adjustments(serving) == []


def test_a_difference_without_an_open_invoice_waits_for_the_next_published_one(serving):
    publish(
        serving,
        [("globex", SEPT, "AmazonS3", "globex-s3", "30.00"), ("globex", OCT, "AmazonS3", "globex-s3", "10.00")],
        {("globex", SEPT), ("globex", OCT)},
    )
    lock_final_invoices(serving, as_of=date(2026, 11, 8), locked_at=datetime(2026, 11, 8))
    # September is restated after globex's only later invoice (October) was locked
    publish(
        serving,
        [("globex", SEPT, "AmazonS3", "globex-s3", "31.00"), ("globex", OCT, "AmazonS3", "globex-s3", "10.00")],
        {("globex", SEPT), ("globex", OCT)},
        extra_invoices=[("globex", AUG)],  # an open invoice before the restated period does not carry it
    )
    assert lock_final_invoices(serving, as_of=date(2026, 11, 9)) == []

    assert restatement_adjustments(serving) == [adjustment("globex", None, SEPT, "AmazonS3", "1.00", "globex-s3")]
    assert locked_lines(serving, "globex", OCT) == [("AmazonS3", "aws", None, Decimal("10.00"))]

    publish(
        serving,
        [
            ("globex", SEPT, "AmazonS3", "globex-s3", "31.00"),
            ("globex", OCT, "AmazonS3", "globex-s3", "10.00"),
            ("globex", NOV, "AmazonS3", "globex-s3", "12.00"),
        ],
        {("globex", SEPT), ("globex", OCT), ("globex", NOV)},
    )
    lock_final_invoices(serving, as_of=date(2026, 12, 8), locked_at=datetime(2026, 12, 8))

    assert lock_totals(serving)[-1] == ("globex", NOV, "BF-202611-0001", Decimal("13.00"))
    assert locked_lines(serving, "globex", NOV) == [
        ("AmazonS3", "adjustment", SEPT, Decimal("1.00")),
        ("AmazonS3", "aws", None, Decimal("12.00")),
    ]
    assert restatement_adjustments(serving) == []


def test_a_locked_period_that_is_no_longer_published_is_not_restated(serving):
    publish(serving, [("acme", SEPT, "AmazonEC2", "list-price", "100.00")], {("acme", SEPT)})
    lock_final_invoices(serving, as_of=date(2026, 10, 8), locked_at=datetime(2026, 10, 8))
    # September's data is gone (say, removed from the staged area): nothing to compare, nothing reversed
    publish(serving, [("acme", OCT, "AmazonEC2", "list-price", "70.00")], set())

    assert restatement_adjustments(serving) == []


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
    serving.execute(
        "insert into billing_control.invoice_locks values (?, ?, ?, 'USD', ?, ?)",
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
    # an unchanged invoice is not restated after the migration
    publish(
        serving,
        [("acme", SEPT, "AmazonEC2", "list-price", "7.00"), ("acme", SEPT, "CUSTOM:acme-fee", "acme-fee", "3.00")],
        {("acme", SEPT)},
    )
    # (publish() writes charge category usage: fix the custom line's, and publish the TAX line)
    serving.execute("update published.invoice_lines set charge_category = 'fee' where product_code = 'CUSTOM:acme-fee'")
    serving.execute(
        "insert into published.invoice_lines (customer_id, billing_period, product_code, charge_category, "
        "pricing_rule_id, line_source, currency_code, amount) values ('acme', ?, 'TAX', 'tax', 'tax_rate', 'tax', "
        "'USD', ?)",
        (SEPT, Decimal("1.00")),
    )
    assert restatement_adjustments(serving) == []


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
    publish(
        serving,
        [
            ("acme", SEPT, "AmazonEC2", "acme-markup", "7.00"),
            ("acme", SEPT, "AmazonS3", "s3-tier-1", "2.00"),
            ("acme", SEPT, "AmazonS3", "s3-tier-2", "1.00"),
        ],
        {("acme", SEPT)},
    )

    ensure_control_tables(serving)

    assert serving.fetch_all(
        "select product_code, pricing_rule_id, line_source, amount from billing_control.locked_invoice_lines "
        "order by product_code"
    ) == [
        ("AmazonEC2", "acme-markup", "aws", Decimal("7.00")),
        ("AmazonS3", "unrecorded", "aws", Decimal("3.00")),
    ]
    # EC2 matches; S3 is shown per rule, adding up to the exact difference (0.00), pending (no open invoice)
    assert sorted(restatement_adjustments(serving), key=str) == [
        adjustment("acme", None, SEPT, "AmazonS3", "2.00", "s3-tier-1"),
        adjustment("acme", None, SEPT, "AmazonS3", "1.00", "s3-tier-2"),
        adjustment("acme", None, SEPT, "AmazonS3", "-3.00", "unrecorded"),
    ]

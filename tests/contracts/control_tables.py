"""Load ledger and invoice locks in the serving database: the same assertions on every Database adapter."""

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
from billflow.billing.close import lock_final_invoices
from billflow.control.ledger import LedgerEntry, loaded_manifests, new_deliveries, record_loads
from billflow.formats.manifest import Delivery


def delivery(payer="111111111111", period=date(2026, 9, 1), manifest_id="m-1"):
    return Delivery(payer, period, manifest_id, "legacy", "r", f"{payer}/r/m.json", ("s3://b/k",))


def test_only_manifests_the_ledger_has_not_loaded_are_new(serving):
    record_loads(serving, [LedgerEntry(delivery(manifest_id="m-1"), 10, Decimal("1.50"))])

    todo = new_deliveries(serving, [delivery(manifest_id="m-1"), delivery(manifest_id="m-2"), delivery("222222222222")])

    assert [(d.payer_account_id, d.manifest_id) for d in todo] == [("111111111111", "m-2"), ("222222222222", "m-1")]


def test_recording_the_same_manifest_twice_keeps_one_row(serving):
    entry = LedgerEntry(delivery(), 10, Decimal("1.50"))
    record_loads(serving, [entry], loaded_at=datetime(2026, 10, 1))
    record_loads(serving, [entry], loaded_at=datetime(2026, 10, 2))

    assert loaded_manifests(serving) == {("111111111111", "2026-09", "m-1")}
    assert serving.fetch_all("select raw_row_count, unblended_cost, loaded_at from billing_control.load_ledger") == [
        (10, Decimal("1.5000000000"), datetime(2026, 10, 2))
    ]


def publish_invoices(serving, rows, lines):
    invoices = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "billing_period": [r[1] for r in rows],
            "currency_code": ["USD"] * len(rows),
            "total_amount": pa.array([Decimal(r[2]) for r in rows], pa.decimal128(18, 2)),
            "is_cur_final": [r[3] for r in rows],
        }
    )
    invoice_lines = pa.table(
        {
            "customer_id": [r[0] for r in lines],
            "billing_period": [r[1] for r in lines],
            "product_code": [r[2] for r in lines],
            "charge_category": ["usage"] * len(lines),
            "pricing_rule_id": ["list-price"] * len(lines),
            "line_source": ["aws"] * len(lines),
            "currency_code": ["USD"] * len(lines),
            "amount": pa.array([Decimal(r[3]) for r in lines], pa.decimal128(18, 2)),
        }
    )
    serving.replace_tables("published", {"invoices": invoices, "invoice_lines": invoice_lines})


SEPT, OCT = date(2026, 9, 1), date(2026, 10, 1)


def test_final_invoices_of_finished_months_are_locked_with_numbers_in_customer_order(serving):
    publish_invoices(
        serving,
        [("globex", SEPT, "20.00", True), ("acme", SEPT, "10.00", True), ("acme", OCT, "5.00", False)],
        [
            ("acme", SEPT, "AmazonEC2", "7.00"),
            ("acme", SEPT, "AmazonS3", "3.00"),
            ("globex", SEPT, "AmazonEC2", "20.00"),
        ],
    )

    locked = lock_final_invoices(serving, as_of=date(2026, 10, 5), locked_at=datetime(2026, 10, 5, 6))

    assert [(i.customer_id, i.invoice_number) for i in locked] == [
        ("acme", "BF-202609-0001"),
        ("globex", "BF-202609-0002"),
    ]
    assert serving.fetch_all(
        "select customer_id, product_code, amount from billing_control.locked_invoice_lines order by 1, 2"
    ) == [
        ("acme", "AmazonEC2", Decimal("7.00")),
        ("acme", "AmazonS3", Decimal("3.00")),
        ("globex", "AmazonEC2", Decimal("20.00")),
    ]


def test_a_month_that_is_not_over_is_not_locked_even_when_final(serving):
    publish_invoices(serving, [("acme", SEPT, "10.00", True)], [("acme", SEPT, "AmazonEC2", "10.00")])

    assert lock_final_invoices(serving, as_of=date(2026, 9, 30)) == []
    assert [i.invoice_number for i in lock_final_invoices(serving, as_of=date(2026, 10, 1))] == ["BF-202609-0001"]


def test_a_locked_invoice_never_changes_when_figures_are_restated(serving):
    publish_invoices(serving, [("acme", SEPT, "10.00", True)], [("acme", SEPT, "AmazonEC2", "10.00")])
    lock_final_invoices(serving, as_of=date(2026, 10, 8), locked_at=datetime(2026, 10, 8))
    publish_invoices(
        serving,
        [("acme", SEPT, "12.00", True), ("initech", SEPT, "4.00", True)],
        [("acme", SEPT, "AmazonEC2", "12.00"), ("initech", SEPT, "AmazonS3", "4.00")],
    )

    again = lock_final_invoices(serving, as_of=date(2026, 10, 9), locked_at=datetime(2026, 10, 9))

    assert [(i.customer_id, i.invoice_number) for i in again] == [("initech", "BF-202609-0002")]
    assert serving.fetch_all(
        "select customer_id, invoice_number, total_amount, locked_at from billing_control.invoice_locks order by 1"
    ) == [
        ("acme", "BF-202609-0001", Decimal("10.00"), datetime(2026, 10, 8)),
        ("initech", "BF-202609-0002", Decimal("4.00"), datetime(2026, 10, 9)),
    ]

"""Load ledger and the monthly close's invoice locks in the serving database: the same assertions on every
Database adapter.

The close locks from the tested serving models in the shadow (billflow.billing.close): each lock test writes
that shadow by hand, as the dbt serving build and the publish step leave it (`billing_shadow.invoices` and
`invoice_lines`, `published_shadow.invoices` and `daily_costs`), makes the payers' staged versions live, and
locks. Every figure is worked out by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from billflow.billing.close import (
    BlockedInvoice,
    CloseError,
    ClosePolicy,
    CloseResult,
    LockedInvoice,
    UnassignedCost,
    lock_final_invoices,
)
from billflow.control.ledger import LedgerEntry, loaded_manifests, new_deliveries, record_loads
from billflow.control.versions import StagedVersion, switch_live_versions
from billflow.formats.manifest import Delivery
from billflow.staging.versions import VersionRef


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


# ---------------------------------------------------------------- the serving shadow, written by hand

AUG, SEPT, OCT = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
PAYER_1, PAYER_2 = "111111111111", "222222222222"
AMOUNT, COST = pa.decimal128(18, 2), pa.decimal128(38, 10)
RELEASE = "r20261008T060000000000Z"


@dataclass(frozen=True)
class Line:
    """A line of an invoice in billing_shadow.invoice_lines (charge category usage, rule list-price)."""

    product_code: str
    amount: str
    line_source: str = "aws"
    adjusts_billing_period: date | None = None


def adjusting(period: date, product_code: str, amount: str) -> Line:
    """A restatement adjustment line of the locked `period`, carried by an open invoice."""
    return Line(product_code, amount, "adjustment", period)


@dataclass(frozen=True)
class Invoice:
    """An invoice as the serving shadow shows it, and what the published shadow says behind it."""

    customer_id: str
    billing_period: date
    lines: tuple[Line, ...]
    is_cur_final: bool = True
    status: str = "provisional"
    currency_code: str = "USD"
    fx_rate_period: date | None = None  # the month whose fx rate priced it (published_shadow.invoices)
    total_amount: str | None = None  # billing_shadow's total; None: the sum of the lines
    costs: dict[str, str] = field(default_factory=dict)  # payer -> amortized cost (published daily_costs)


def invoice(customer_id: str, period: date, *lines: Line, on: dict[str, str] | None = None, **rest) -> Invoice:
    """An invoice priced with its own month's fx rate; its cost on payer 1 unless `on` says otherwise."""
    own = sum((Decimal(line.amount) for line in lines if line.adjusts_billing_period is None), Decimal("0.00"))
    rest.setdefault("fx_rate_period", period)
    return Invoice(customer_id, period, lines, costs=on if on is not None else {PAYER_1: str(own)}, **rest)


def write_shadow(serving, *invoices: Invoice) -> None:
    """The serving shadow after publish and the dbt serving build: the only place the close locks from."""
    lines = [(i, line) for i in invoices for line in i.lines]
    totals = [
        Decimal(i.total_amount) if i.total_amount else sum((Decimal(x.amount) for x in i.lines), Decimal("0.00"))
        for i in invoices
    ]
    costs = [(i, payer, cost) for i in invoices for payer, cost in i.costs.items()]
    serving.replace_tables(
        "billing_shadow",
        {
            "invoices": pa.table(
                {
                    "customer_id": [i.customer_id for i in invoices],
                    "billing_period": pa.array([i.billing_period for i in invoices], pa.date32()),
                    "status": [i.status for i in invoices],
                    "currency_code": [i.currency_code for i in invoices],
                    "is_cur_final": pa.array([i.is_cur_final for i in invoices], pa.bool_()),
                    "total_amount": pa.array(totals, AMOUNT),
                }
            ),
            "invoice_lines": pa.table(
                {
                    "customer_id": [i.customer_id for i, _ in lines],
                    "billing_period": pa.array([i.billing_period for i, _ in lines], pa.date32()),
                    "status": [i.status for i, _ in lines],
                    "product_code": [line.product_code for _, line in lines],
                    "charge_category": ["usage"] * len(lines),
                    "pricing_rule_id": ["list-price"] * len(lines),
                    "line_source": [line.line_source for _, line in lines],
                    "adjusts_billing_period": pa.array([line.adjusts_billing_period for _, line in lines], pa.date32()),
                    "currency_code": [i.currency_code for i, _ in lines],
                    "amount": pa.array([Decimal(line.amount) for _, line in lines], AMOUNT),
                }
            ),
        },
    )
    serving.replace_tables(
        "published_shadow",
        {
            "invoices": pa.table(
                {
                    "customer_id": [i.customer_id for i in invoices],
                    "billing_period": pa.array([i.billing_period for i in invoices], pa.date32()),
                    "currency_code": [i.currency_code for i in invoices],
                    "fx_rate_period": pa.array([i.fx_rate_period for i in invoices], pa.date32()),
                }
            ),
            "daily_costs": pa.table(
                {
                    "billing_period": pa.array([i.billing_period for i, _, _ in costs], pa.date32()),
                    "customer_id": [i.customer_id for i, _, _ in costs],
                    "payer_account_id": [payer for _, payer, _ in costs],
                    "amortized_cost": pa.array([Decimal(cost) for _, _, cost in costs], COST),
                }
            ),
        },
    )


def make_live(serving, payer: str, period: date, final: bool = True, manifest_id: str = "m-1") -> None:
    """A staged version of the payer's CUR for `period` is live (as a release leaves it)."""
    ref = VersionRef(payer, period, f"20261001T060000000000Z-{manifest_id}")
    staged = StagedVersion(ref, manifest_id, f"{payer}/r/m.json", "legacy", 10, 4, Decimal("12.50"), final)
    with serving.transaction():
        switch_live_versions(serving, "r20261001T060000000000Z", [staged])


def lock(serving, as_of: date, policy: ClosePolicy | None = None, release_id: str = RELEASE) -> CloseResult:
    locked_at = datetime(as_of.year, as_of.month, as_of.day, 6)
    return lock_final_invoices(serving, as_of, policy or ClosePolicy({}), release_id=release_id, locked_at=locked_at)


def locks(serving) -> list[tuple]:
    return serving.fetch_all(
        "select customer_id, billing_period, invoice_number, currency_code, total_amount, locked_at, release_id "
        "from billing_control.invoice_locks order by billing_period, invoice_number"
    )


def locked_lines(serving, customer_id: str, period: date) -> list[tuple]:
    return serving.fetch_all(
        "select product_code, line_source, adjusts_billing_period, amount from billing_control.locked_invoice_lines "
        "where customer_id = ? and billing_period = ? order by line_source, product_code",
        (customer_id, period),
    )


def locked(customer_id: str, period: date, sequence: int) -> LockedInvoice:
    return LockedInvoice(customer_id, period, f"BF-{period:%Y%m}-{sequence:04d}")


# ---------------------------------------------------------------- invoice numbers and what is locked


def test_final_invoices_of_finished_months_are_locked_with_numbers_in_customer_order(serving):
    write_shadow(
        serving,
        invoice("globex", SEPT, Line("AmazonEC2", "20.00")),
        invoice("acme", SEPT, Line("AmazonEC2", "7.00"), Line("AmazonS3", "3.00")),
        invoice("acme", OCT, Line("AmazonEC2", "5.00"), is_cur_final=False),
    )
    make_live(serving, PAYER_1, SEPT)
    make_live(serving, PAYER_1, OCT, final=False)

    result = lock(serving, as_of=date(2026, 11, 5))

    assert result == CloseResult([locked("acme", SEPT, 1), locked("globex", SEPT, 2)], [], [])
    assert locks(serving) == [
        ("acme", SEPT, "BF-202609-0001", "USD", Decimal("10.00"), datetime(2026, 11, 5, 6), RELEASE),
        ("globex", SEPT, "BF-202609-0002", "USD", Decimal("20.00"), datetime(2026, 11, 5, 6), RELEASE),
    ]
    assert serving.fetch_all(
        "select customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code, amount, "
        "line_source, adjusts_billing_period from billing_control.locked_invoice_lines order by 1, 3"
    ) == [
        ("acme", SEPT, "AmazonEC2", "usage", "list-price", "USD", Decimal("7.00"), "aws", None),
        ("acme", SEPT, "AmazonS3", "usage", "list-price", "USD", Decimal("3.00"), "aws", None),
        ("globex", SEPT, "AmazonEC2", "usage", "list-price", "USD", Decimal("20.00"), "aws", None),
    ]


def test_a_month_that_is_not_over_is_not_locked_even_when_final(serving):
    write_shadow(serving, invoice("acme", SEPT, Line("AmazonEC2", "10.00")))
    make_live(serving, PAYER_1, SEPT)

    assert lock(serving, as_of=date(2026, 9, 30)) == CloseResult([], [], [])
    assert locks(serving) == []
    assert lock(serving, as_of=date(2026, 10, 1)).locked == [locked("acme", SEPT, 1)]


def test_a_locked_invoice_never_changes_when_figures_are_restated(serving):
    write_shadow(serving, invoice("acme", SEPT, Line("AmazonEC2", "10.00")))
    make_live(serving, PAYER_1, SEPT)
    lock(serving, as_of=date(2026, 10, 8), release_id="r20261008T060000000000Z")
    # AWS restates September (acme 12.00, initech new); the serving build shows acme's lock, final
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00"), status="final", on={PAYER_1: "12.00"}),
        invoice("initech", SEPT, Line("AmazonS3", "4.00")),
    )

    again = lock(serving, as_of=date(2026, 10, 9), release_id="r20261009T060000000000Z")

    assert again == CloseResult([locked("initech", SEPT, 2)], [], [])
    assert locks(serving) == [
        ("acme", SEPT, "BF-202609-0001", "USD", Decimal("10.00"), datetime(2026, 10, 8, 6), "r20261008T060000000000Z"),
        (
            "initech",
            SEPT,
            "BF-202609-0002",
            "USD",
            Decimal("4.00"),
            datetime(2026, 10, 9, 6),
            "r20261009T060000000000Z",
        ),
    ]
    assert locked_lines(serving, "acme", SEPT) == [("AmazonEC2", "aws", None, Decimal("10.00"))]
    assert locked_lines(serving, "initech", SEPT) == [("AmazonS3", "aws", None, Decimal("4.00"))]


def test_the_unassigned_customer_never_gets_an_invoice_number(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("unassigned", SEPT, Line("AmazonEC2", "12.35"), on={PAYER_1: "12.345"}),
        invoice("wayne", SEPT, Line("AmazonS3", "5.00")),
    )
    make_live(serving, PAYER_1, SEPT)

    result = lock(serving, as_of=date(2026, 10, 8))

    # no limit in the rule set: the unassigned cost is reported, not invoiced
    assert result == CloseResult(
        [locked("acme", SEPT, 1), locked("wayne", SEPT, 2)],
        [],
        [UnassignedCost(PAYER_1, SEPT, Decimal("12.345"), None)],
    )
    assert [row[0] for row in locks(serving)] == ["acme", "wayne"]
    assert locked_lines(serving, "unassigned", SEPT) == []


def test_the_adjustment_lines_an_open_invoice_carries_are_frozen_with_it(serving):
    write_shadow(serving, invoice("acme", SEPT, Line("AmazonEC2", "100.00"), Line("AmazonS3", "20.00")))
    make_live(serving, PAYER_1, SEPT)
    lock(serving, as_of=date(2026, 10, 8))
    # September restated (EC2 110.50, S3 gone, Lambda 5.25): October carries the differences
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "100.00"), Line("AmazonS3", "20.00"), status="final"),
        invoice(
            "acme",
            OCT,
            Line("AmazonEC2", "70.00"),
            adjusting(SEPT, "AmazonEC2", "10.50"),
            adjusting(SEPT, "AmazonS3", "-20.00"),
            adjusting(SEPT, "AWSLambda", "5.25"),
        ),
    )
    make_live(serving, PAYER_1, OCT)

    result = lock(serving, as_of=date(2026, 11, 8))

    assert result == CloseResult([locked("acme", OCT, 1)], [], [])
    # 70.00 + 10.50 - 20.00 + 5.25; September's lock does not move
    assert [(row[0], row[1], row[4]) for row in locks(serving)] == [
        ("acme", SEPT, Decimal("120.00")),
        ("acme", OCT, Decimal("65.75")),
    ]
    assert locked_lines(serving, "acme", OCT) == [
        ("AWSLambda", "adjustment", SEPT, Decimal("5.25")),
        ("AmazonEC2", "adjustment", SEPT, Decimal("10.50")),
        ("AmazonS3", "adjustment", SEPT, Decimal("-20.00")),
        ("AmazonEC2", "aws", None, Decimal("70.00")),
    ]
    assert locked_lines(serving, "acme", SEPT) == [
        ("AmazonEC2", "aws", None, Decimal("100.00")),
        ("AmazonS3", "aws", None, Decimal("20.00")),
    ]


def test_an_invoice_whose_lines_do_not_add_up_to_its_total_stops_the_close_and_locks_nothing(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "7.00"), Line("AmazonS3", "3.00")),
        invoice("globex", SEPT, Line("AmazonEC2", "12.00"), Line("AmazonS3", "7.99"), total_amount="20.00"),
    )
    make_live(serving, PAYER_1, SEPT)

    with pytest.raises(CloseError) as stopped:
        lock(serving, as_of=date(2026, 10, 8))

    assert (
        str(stopped.value)
        == "invoice of globex 2026-09: its lines add up to 19.99, its total is 20.00; nothing was locked"
    )
    assert locks(serving) == []
    assert serving.fetch_all("select count(*) from billing_control.locked_invoice_lines") == [(0,)]


# ---------------------------------------------------------------- preconditions: what is not locked, and why


def test_an_invoice_without_the_fx_rate_of_its_month_is_not_locked_but_other_currencies_are(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("hooli", SEPT, Line("AmazonEC2", "13928.00"), currency_code="KRW", fx_rate_period=AUG),
        invoice("kyoto", SEPT, Line("AmazonEC2", "1500.00"), currency_code="JPY", fx_rate_period=None),
    )
    make_live(serving, PAYER_1, SEPT)

    result = lock(serving, as_of=date(2026, 10, 8))

    assert result == CloseResult(
        [locked("acme", SEPT, 1)],
        [
            BlockedInvoice(
                "hooli",
                SEPT,
                "no fx rate for KRW in 2026-09 (priced with the rate of 2026-08): add it to the rule set's fx_rates",
            ),
            BlockedInvoice("kyoto", SEPT, "no fx rate for JPY in 2026-09: add it to the rule set's fx_rates"),
        ],
        [],
    )
    assert [row[0] for row in locks(serving)] == ["acme"]
    assert locked_lines(serving, "hooli", SEPT) == []

    # the rate is added and the invoice re-priced: it is locked next, its number after acme's
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00"), status="final"),
        invoice("hooli", SEPT, Line("AmazonEC2", "13930.00"), currency_code="KRW"),
    )
    assert lock(serving, as_of=date(2026, 10, 9)) == CloseResult([locked("hooli", SEPT, 2)], [], [])
    assert locks(serving)[1][:5] == ("hooli", SEPT, "BF-202609-0002", "KRW", Decimal("13930.00"))


def test_customers_of_a_payer_that_delivered_last_month_but_not_this_month_are_not_locked(serving):
    write_shadow(
        serving,
        invoice("acme", AUG, Line("AmazonEC2", "9.00"), status="final"),
        invoice("initech", AUG, Line("AmazonRDS", "30.00"), status="final", on={PAYER_2: "30.00"}),
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("globex", SEPT, Line("AmazonS3", "20.00")),
        # initech's account on payer 1 delivered; its account on payer 2 has no September CUR loaded
        invoice("initech", SEPT, Line("AWSLambda", "4.00")),
    )
    make_live(serving, PAYER_1, AUG)
    make_live(serving, PAYER_2, AUG)
    make_live(serving, PAYER_1, SEPT)

    result = lock(serving, as_of=date(2026, 10, 8))

    assert result == CloseResult(
        [locked("acme", SEPT, 1), locked("globex", SEPT, 2)],
        [BlockedInvoice("initech", SEPT, "payer 222222222222 delivered 2026-08 but no CUR for 2026-09 is loaded")],
        [],
    )
    assert [row[0] for row in locks(serving)] == ["acme", "globex"]


def test_customers_of_a_payer_whose_loaded_cur_is_not_final_are_not_locked(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice(
            "initech",
            SEPT,
            Line("AmazonRDS", "30.00"),
            Line("AWSLambda", "4.00"),
            on={PAYER_1: "4.00", PAYER_2: "30.00"},
        ),
    )
    make_live(serving, PAYER_1, SEPT)
    make_live(serving, PAYER_2, SEPT, final=False, manifest_id="m-7")

    result = lock(serving, as_of=date(2026, 10, 8))

    assert result == CloseResult(
        [locked("acme", SEPT, 1)],
        [
            BlockedInvoice(
                "initech", SEPT, "payer 222222222222's loaded CUR for 2026-09 (manifest m-7) is not final yet"
            )
        ],
        [],
    )
    assert [row[0] for row in locks(serving)] == ["acme"]


def test_a_newer_delivery_not_loaded_yet_holds_back_its_payers_customers_of_that_month(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("initech", SEPT, Line("AmazonRDS", "30.00"), on={PAYER_2: "30.00"}),
    )
    make_live(serving, PAYER_1, SEPT)
    make_live(serving, PAYER_2, SEPT)
    # payer 2 re-delivered September; payer 1's waiting delivery is October's
    policy = ClosePolicy({}, unloaded=frozenset({(PAYER_2, SEPT), (PAYER_1, OCT)}))

    result = lock(serving, as_of=date(2026, 10, 8), policy=policy)

    assert result == CloseResult(
        [locked("acme", SEPT, 1)],
        [
            BlockedInvoice(
                "initech",
                SEPT,
                "payer 222222222222 has a newer delivery for 2026-09 that is not loaded yet: run the daily load",
            )
        ],
        [],
    )


def test_unassigned_cost_over_the_payers_limit_holds_back_that_payers_customers(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("initech", SEPT, Line("AmazonRDS", "20.00"), on={PAYER_2: "20.00"}),
        invoice("unassigned", SEPT, Line("AmazonEC2", "62.35"), on={PAYER_1: "12.345", PAYER_2: "50.00"}),
    )
    make_live(serving, PAYER_1, SEPT)
    make_live(serving, PAYER_2, SEPT)
    # payer 1 has no limit of its own: the default '*' applies (12.345 > 10.00); payer 2's own limit
    # wins over the default (50.00 <= 100.00, where the default would stop it)
    policy = ClosePolicy({"*": Decimal("10.00"), PAYER_2: Decimal("100.00")})

    result = lock(serving, as_of=date(2026, 10, 8), policy=policy)

    assert result == CloseResult(
        [locked("initech", SEPT, 1)],
        [
            BlockedInvoice(
                "acme",
                SEPT,
                "payer 111111111111 has 12.345 of unassigned cost in 2026-09, above the limit of 10.00: "
                "assign its accounts (account_assignments)",
            )
        ],
        [
            UnassignedCost(PAYER_1, SEPT, Decimal("12.345"), Decimal("10.00")),
            UnassignedCost(PAYER_2, SEPT, Decimal("50.00"), Decimal("100.00")),
        ],
    )
    assert [unassigned.over_limit for unassigned in result.unassigned] == [True, False]
    assert [row[0] for row in locks(serving)] == ["initech"]


def test_unassigned_cost_within_the_limit_is_reported_and_the_invoices_are_locked(serving):
    write_shadow(
        serving,
        invoice("acme", SEPT, Line("AmazonEC2", "10.00")),
        invoice("unassigned", SEPT, Line("AmazonEC2", "12.35"), on={PAYER_1: "12.345"}),
    )
    make_live(serving, PAYER_1, SEPT)

    result = lock(serving, as_of=date(2026, 10, 8), policy=ClosePolicy({"*": Decimal("20.00")}))

    assert result == CloseResult(
        [locked("acme", SEPT, 1)], [], [UnassignedCost(PAYER_1, SEPT, Decimal("12.345"), Decimal("20.00"))]
    )

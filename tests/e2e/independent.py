"""What the invoices must be, computed straight from the raw Parquet with pyarrow and Python decimals.

Deliberately shares no code with billflow: it reads the manifests and the dbt seeds itself and applies
the rules as ARCHITECTURE.md states them (amortized basis, account assignment by usage date, the
customer's adjustment percentage except on tax, each line rounded half away from zero to the cent).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow.parquet as pq

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
CENT = Decimal("0.01")


def current_data_files(landing: Path) -> list[Path]:
    """The data files listed by every manifest in the landing zone (legacy and CUR 2.0)."""
    files = []
    for manifest in sorted(landing.rglob("*-Manifest.json")):
        body = json.loads(manifest.read_text())
        if "reportKeys" in body:
            files += [landing / key for key in body["reportKeys"]]
        else:
            files += [landing / uri.split("/", 3)[3] for uri in body["dataFiles"]]
    return files


def raw_rows(landing: Path) -> list[dict]:
    rows = []
    for path in current_data_files(landing):
        rows += pq.read_table(path).to_pylist()
    return rows


def dec(value) -> Decimal:
    return Decimal(0) if value is None else Decimal(repr(value))


def amortized_cost(row: dict) -> Decimal:
    kind = row["line_item_line_item_type"]
    if kind == "SavingsPlanCoveredUsage":
        return dec(row["savings_plan_savings_plan_effective_cost"])
    if kind == "SavingsPlanRecurringFee":
        return dec(row["savings_plan_total_commitment_to_date"]) - dec(row["savings_plan_used_commitment"])
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "Refund" and row.get("savings_plan_savings_plan_a_r_n"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        return dec(row["reservation_effective_cost"])
    if kind == "RIFee":
        return dec(row["reservation_unused_amortized_upfront_fee_for_billing_period"]) + dec(
            row["reservation_unused_recurring_fee"]
        )
    if kind == "Fee" and row.get("reservation_reservation_a_r_n"):
        return Decimal(0)
    return dec(row["line_item_unblended_cost"])


def _seed(name: str) -> list[dict]:
    with open(SEEDS / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _effective(rows: list[dict], on: date) -> list[dict]:
    return [
        r
        for r in rows
        if date.fromisoformat(r["effective_from"]) <= on
        and (not r["effective_to"] or on < date.fromisoformat(r["effective_to"]))
    ]


def expected_invoices(landing: Path) -> dict[tuple[str, str], Decimal]:
    """(customer, 'YYYY-MM') -> invoice total."""
    assignments, pricing = _seed("account_assignments"), _seed("customer_pricing")
    category = {r["line_item_type"]: r["charge_category"] for r in _seed("line_item_types")}
    billed_lines: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in raw_rows(landing):
        usage_date = row["line_item_usage_start_date"].date()
        account = row["line_item_usage_account_id"]
        owners = [r["customer_id"] for r in _effective(assignments, usage_date) if r["usage_account_id"] == account]
        customer = owners[0] if owners else "unassigned"
        kind = category[row["line_item_line_item_type"]]
        pct = [Decimal(r["adjustment_pct"]) for r in _effective(pricing, usage_date) if r["customer_id"] == customer]
        factor = Decimal(1) if kind == "tax" or not pct else 1 + pct[0] / 100
        period = row["bill_billing_period_start_date"].strftime("%Y-%m")
        billed_lines[(customer, period, row["line_item_product_code"], kind)] += amortized_cost(row) * factor
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (customer, period, _product, _kind), billed in billed_lines.items():
        totals[(customer, period)] += billed.quantize(CENT, rounding=ROUND_HALF_UP)
    return dict(totals)

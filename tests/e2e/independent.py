"""What the invoices must be, computed straight from the raw Parquet with pyarrow and Python decimals.

Deliberately shares no code with billflow: it reads the manifests and the dbt seeds itself and applies
the rules as ARCHITECTURE.md states them: account assignment by usage date (unmapped -> `unassigned`),
the customer's basis (amortized or unblended), discounts and credits only where the customer's flag
passes them through, the most specific pricing rule (usage_type > service > account > customer >
global, then priority, then rule_id) except on tax, AWS tax at cost or replaced by the customer's
tax rate on the subtotal, custom fees and credits, each line rounded half away from zero to the cent.
"""

from __future__ import annotations

import csv
import json
import re
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


SPECIFICITY = {"usage_type": 5, "service": 4, "account": 3, "customer": 2, "global": 1}


def _like(pattern: str) -> re.Pattern:
    """SQL LIKE (case-sensitive): % any run, _ one character."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _winning_rule(rules: list[dict], customer: str, account: str, product: str, usage_type: str, on: date) -> dict:
    matching = [
        r
        for r in _effective(rules, on)
        if (not r["customer_id"] or r["customer_id"] == customer)
        and (not r["usage_account_id"] or r["usage_account_id"] == account)
        and (not r["product_code"] or r["product_code"] == product)
        and (not r["usage_type_pattern"] or _like(r["usage_type_pattern"]).fullmatch(usage_type))
    ]
    # most specific scope, then the higher priority, then the smaller rule_id
    return min(matching, key=lambda r: (-SPECIFICITY[r["scope"]], -int(r["priority"]), r["rule_id"]))


def _items_due(items: list[dict], period: date) -> list[dict]:
    due = []
    for item in items:
        start = date.fromisoformat(item["effective_from"])
        end = date.fromisoformat(item["effective_to"]) if item["effective_to"] else None
        monthly = item["recurrence"] == "monthly" and start <= period and (end is None or period < end)
        if monthly or (item["recurrence"] == "one_off" and period == start):
            due.append(item)
    return due


def expected_invoices(landing: Path) -> dict[tuple[str, str], Decimal]:
    """(customer, 'YYYY-MM') -> invoice total."""
    assignments, rules, items = _seed("account_assignments"), _seed("pricing_rules"), _seed("custom_line_items")
    customers = {r["customer_id"]: r for r in _seed("customers")}
    types = {r["line_item_type"]: r for r in _seed("line_item_types")}
    billed_lines: dict[tuple, Decimal] = defaultdict(Decimal)
    spend: dict[tuple, Decimal] = defaultdict(Decimal)
    periods: set[date] = set()
    winners: dict[tuple, dict] = {}
    for row in raw_rows(landing):
        usage_date = row["line_item_usage_start_date"].date()
        account = row["line_item_usage_account_id"]
        owners = [r["customer_id"] for r in _effective(assignments, usage_date) if r["usage_account_id"] == account]
        customer = owners[0] if owners else "unassigned"
        terms = customers[customer]
        period = row["bill_billing_period_start_date"].date().replace(day=1)
        periods.add(period)
        kind = types[row["line_item_line_item_type"]]
        category, passes = kind["charge_category"], kind["pass_through_class"]
        product = row["line_item_product_code"] or ""
        basis = dec(row["line_item_unblended_cost"]) if terms["basis"] == "unblended" else amortized_cost(row)
        if category == "tax":
            if terms["tax_mode"] == "pass_through":
                billed_lines[(customer, period, product, category, "tax_pass_through")] += basis
            continue  # a tax rate replaces AWS tax
        if passes == "discount" and terms["pass_through_discounts"] != "true":
            continue
        if passes == "credit" and terms["pass_through_credits"] != "true":
            continue
        usage_type = row["line_item_usage_type"] or ""
        key = (customer, account, product, usage_type, usage_date)
        if key not in winners:
            winners[key] = _winning_rule(rules, *key)
        rule = winners[key]
        billed = basis * (1 + Decimal(rule["adjustment_pct"]) / 100)
        billed_lines[(customer, period, product, category, rule["rule_id"])] += billed
        spend[(customer, period)] += billed
    for period in periods:
        for item in _items_due(items, period):
            customer = item["customer_id"]
            if item["amount_type"] == "flat":
                amount = Decimal(item["amount"])
            else:
                amount = spend[(customer, period)] * Decimal(item["pct"]) / 100
            category = "credit" if item["kind"] == "credit" else "fee"
            billed_lines[(customer, period, f"CUSTOM:{item['item_id']}", category, item["item_id"])] += (
                -amount if category == "credit" else amount
            )
    totals: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for (customer, period, *_line), billed in billed_lines.items():
        totals[(customer, period)] += billed.quantize(CENT, rounding=ROUND_HALF_UP)
    for (customer, period), subtotal in list(totals.items()):
        terms = customers[customer]
        if terms["tax_mode"] == "rate":
            tax = subtotal * Decimal(terms["tax_rate_pct"]) / 100
            totals[(customer, period)] += tax.quantize(CENT, rounding=ROUND_HALF_UP)
    return {(customer, period.strftime("%Y-%m")): total for (customer, period), total in totals.items()}

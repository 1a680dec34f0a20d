"""What the invoices must be, computed straight from the raw Parquet with pyarrow and Python decimals.

Deliberately shares no code with billflow: it reads the manifests and the seeds (the demo rule set and
the reference seeds) itself and applies the rules as docs/BILLING_RULES.md states them: account
assignment by usage date (unmapped -> `unassigned`), the customer's basis (amortized or unblended),
covered usage of another customer's Savings Plan or reservation re-rated to public on-demand, AWS support
shared by eligible spend (each share rounded half away from zero to 1e-10, the largest spender taking the
remainder) or replaced by the partner's plan, discounts, credits and the SPP discount only where the
customer's flag passes them through (an empty pass_through_spp_discount is false), the most specific
pricing rule (usage_type > service > account > customer > global, then priority, then rule_id) except on
tax, AWS tax at cost or replaced by the customer's tax rate on the subtotal, conversion at the month's fx
rate, custom fees and credits, each line rounded half away from zero to the currency's minor unit.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "dbt_project" / "seeds"
RULES = REPO / "demo" / "rules"
TEN_DECIMALS = Decimal("0.0000000001")
COVERED = ("SavingsPlanCoveredUsage", "DiscountedUsage", "SavingsPlanNegation")
SUPPORT = re.compile(r"^(AWSSupport|AWSDeveloperSupport)")


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
    """A raw money value: a Parquet decimal as it is, a double by its shortest repr (what AWS wrote)."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(repr(value))


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
    folder = RULES if (RULES / f"{name}.csv").exists() else SEEDS
    with open(folder / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _customer_on(assignments: list[dict], account: str, on: date) -> str:
    owners = [r["customer_id"] for r in _effective(assignments, on) if r["usage_account_id"] == account]
    return owners[0] if owners else "unassigned"


def _fx_rate(rates: list[dict], period: date, currency: str) -> Decimal:
    if currency == "USD":
        return Decimal(1)
    known = [r for r in rates if r["to_currency"] == currency and date.fromisoformat(r["billing_period"]) <= period]
    return Decimal(max(known, key=lambda r: r["billing_period"])["rate"])


def _shares(pool: Decimal, eligible: dict[str, Decimal]) -> dict[str, Decimal]:
    """Pro rata to 1e-10, rounded half away from zero; the largest eligible spend (then the smallest id) takes
    the rest."""
    total = sum(eligible.values())
    with localcontext() as exact:
        exact.prec = 80  # the quotient exact far past the 11th decimal: a tie stays a tie
        shares = {c: (pool * e / total).quantize(TEN_DECIMALS, rounding=ROUND_HALF_UP) for c, e in eligible.items()}
    first = min(eligible, key=lambda c: (-eligible[c], c))
    shares[first] = pool - sum(v for c, v in shares.items() if c != first)
    return shares


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
    """(customer, 'YYYY-MM') -> invoice total, in the customer's currency."""
    assignments, rules, items = _seed("account_assignments"), _seed("pricing_rules"), _seed("custom_line_items")
    customer_rows = _seed("customers")

    def terms_of(customer: str, period: date) -> dict:
        """The customers row in force for the billing period (terms change on month starts)."""
        return next(r for r in _effective(customer_rows, period) if r["customer_id"] == customer)

    types = {r["line_item_type"]: r for r in _seed("line_item_types")}
    minor_units = {r["currency_code"]: int(r["minor_unit"]) for r in _seed("currencies")}
    fx_rates = _seed("fx_rates")
    billed_lines: dict[tuple, Decimal] = defaultdict(Decimal)
    support_pools: dict[tuple, Decimal] = defaultdict(Decimal)
    support_owners: dict[tuple, set[str]] = defaultdict(set)
    eligible: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    periods: set[date] = set()
    winners: dict[tuple, dict] = {}
    for row in raw_rows(landing):
        usage_date = row["line_item_usage_start_date"].date()
        account = row["line_item_usage_account_id"]
        customer = _customer_on(assignments, account, usage_date)
        period = row["bill_billing_period_start_date"].date().replace(day=1)
        terms = terms_of(customer, period)
        payer = row["bill_payer_account_id"]
        periods.add(period)
        kind = types[row["line_item_line_item_type"]]
        category, passes = kind["charge_category"], kind["pass_through_class"]
        product = row["line_item_product_code"] or ""
        basis = dec(row["line_item_unblended_cost"]) if terms["basis"] == "unblended" else amortized_cost(row)
        arn = row.get("savings_plan_savings_plan_a_r_n") or row.get("reservation_reservation_a_r_n")
        if row["line_item_line_item_type"] in COVERED and arn:
            buyer = _customer_on(assignments, arn.split(":")[4], usage_date)
            if terms["rerate_covered_usage"] == "all" or buyer != customer:
                negation = row["line_item_line_item_type"] == "SavingsPlanNegation"
                basis = Decimal(0) if negation else dec(row["pricing_public_on_demand_cost"])
        if SUPPORT.match(product) and category in ("fee", "usage", "refund"):
            support_pools[(period, payer, product)] += amortized_cost(row)
            support_owners[(period, payer, product)].add(customer)
            continue
        if category == "tax":
            if terms["tax_mode"] == "pass_through":
                billed_lines[(customer, period, product, category, "tax_pass_through")] += basis
            continue  # a tax rate replaces AWS tax
        if passes == "discount" and terms["pass_through_discounts"] != "true":
            continue
        if passes == "credit" and terms["pass_through_credits"] != "true":
            continue
        if passes == "spp_discount" and terms.get("pass_through_spp_discount") != "true":
            continue  # the reseller's margin: billed as if there were no SPP discount
        if category in ("usage", "commitment"):
            eligible[(period, payer)][customer] += basis
        usage_type = row["line_item_usage_type"] or ""
        key = (customer, account, product, usage_type, usage_date)
        if key not in winners:
            winners[key] = _winning_rule(rules, *key)
        rule = winners[key]
        billed = basis * (1 + Decimal(rule["adjustment_pct"]) / 100)
        billed_lines[(customer, period, product, category, rule["rule_id"])] += billed
    # AWS lines in the invoice currency; the spend is their sum but tax
    invoice_lines: dict[tuple, Decimal] = {}
    spend: dict[tuple, Decimal] = defaultdict(Decimal)
    for (customer, period, product, category, rule_id), billed in billed_lines.items():
        rate = _fx_rate(fx_rates, period, terms_of(customer, period)["currency_code"])
        converted = (billed * rate).quantize(TEN_DECIMALS, rounding=ROUND_HALF_UP)
        invoice_lines[(customer, period, product, category, rule_id)] = converted
        if category != "tax":
            spend[(customer, period)] += converted
    support_lines: dict[tuple, Decimal] = defaultdict(Decimal)
    for (period, payer, product), pool in support_pools.items():
        takers = {c: e for c, e in eligible[(period, payer)].items() if e > 0}
        shares = _shares(pool, takers) if takers else {min(support_owners[(period, payer, product)]): pool}
        for customer, share in shares.items():
            if terms_of(customer, period)["support_mode"] == "reallocate":
                support_lines[(customer, period, product, "support", "support_reallocation")] += share
    for (customer, period, *line), share in support_lines.items():
        rate = _fx_rate(fx_rates, period, terms_of(customer, period)["currency_code"])
        invoice_lines[(customer, period, *line)] = (share * rate).quantize(TEN_DECIMALS, rounding=ROUND_HALF_UP)
    for period in periods:
        for customer in sorted({r["customer_id"] for r in _effective(customer_rows, period)}):
            terms = terms_of(customer, period)
            if terms["support_mode"] == "partner_plan":
                fee = max(
                    spend[(customer, period)] * Decimal(terms["support_pct"]) / 100, Decimal(terms["support_minimum"])
                )
                invoice_lines[(customer, period, "SUPPORT:partner_plan", "support", "partner_support_plan")] = fee
        for item in _items_due(items, period):
            customer = item["customer_id"]
            if item["amount_type"] == "flat":
                amount = Decimal(item["amount"])
            else:
                amount = spend[(customer, period)] * Decimal(item["pct"]) / 100
            category = "credit" if item["kind"] == "credit" else "fee"
            invoice_lines[(customer, period, f"CUSTOM:{item['item_id']}", category, item["item_id"])] = (
                -amount if category == "credit" else amount
            )
    totals: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for (customer, period, *_line), value in invoice_lines.items():
        totals[(customer, period)] += _round(value, minor_units[terms_of(customer, period)["currency_code"]])
    for (customer, period), subtotal in list(totals.items()):
        terms = terms_of(customer, period)
        if terms["tax_mode"] == "rate":
            tax = subtotal * Decimal(terms["tax_rate_pct"]) / 100
            totals[(customer, period)] += _round(tax, minor_units[terms["currency_code"]])
    return {(customer, period.strftime("%Y-%m")): total for (customer, period), total in totals.items()}


def _round(value: Decimal, minor_unit: int) -> Decimal:
    """Half away from zero (Decimal's ROUND_HALF_UP) to the currency's minor unit."""
    return value.quantize(Decimal(1).scaleb(-minor_unit), rounding=ROUND_HALF_UP)

"""Monthly close: freeze the final invoices of billing periods whose CUR is final and whose month is over.

Invoices are locked from the tested serving models (schema `billing_shadow`, built and tested by dbt
just before), never from untested copies: the provisional invoice with its lines, including the
restatement adjustment lines it carries (rule 11), and its total. Locking stops, for the invoices it
concerns, when a precondition fails (`check_close_preconditions`): the fx rate of the month is missing
for the invoice's currency, a payer that delivered the month before has not delivered this month's final
CUR, a newer delivery is waiting in the landing zone, or the payer's unassigned cost exceeds the rule
set's limit. The `unassigned` customer is never invoiced: its cost is reported instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billflow.control.schema import CONTROL_SCHEMA, ensure_control_tables
from billflow.control.versions import live_version_facts
from billflow.engines.database import Database
from billflow.serving.shadow import BILLING_SHADOW_SCHEMA, PUBLISHED_SHADOW_SCHEMA

log = logging.getLogger(__name__)


class CloseError(RuntimeError):
    """An invoice cannot be locked as the serving models show it (a bug, not a precondition)."""


@dataclass(frozen=True)
class LockedInvoice:
    customer_id: str
    billing_period: date
    invoice_number: str


LINE_COLUMNS = (
    "customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code, amount, "
    "line_source, adjusts_billing_period"
)


def month_after(period: date) -> date:
    return date(period.year + (period.month == 12), period.month % 12 + 1, 1)


def month_before(period: date) -> date:
    return date(period.year - (period.month == 1), (period.month - 2) % 12 + 1, 1)


def invoice_number(period: date, sequence: int) -> str:
    return f"BF-{period:%Y%m}-{sequence:04d}"


UNASSIGNED_CUSTOMER = "unassigned"


@dataclass(frozen=True)
class BlockedInvoice:
    customer_id: str
    billing_period: date
    reason: str

    def describe(self) -> str:
        return f"{self.customer_id} {self.billing_period:%Y-%m}: {self.reason}"


@dataclass(frozen=True)
class UnassignedCost:
    payer_account_id: str
    billing_period: date
    amortized_cost: Decimal
    limit: Decimal | None

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and abs(self.amortized_cost) > self.limit


@dataclass(frozen=True)
class CloseResult:
    locked: list[LockedInvoice]
    blocked: list[BlockedInvoice]
    unassigned: list[UnassignedCost]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the close's tasks pass it through XCom)."""
        return {
            "locked": [[i.customer_id, i.billing_period.isoformat(), i.invoice_number] for i in self.locked],
            "blocked": [[b.customer_id, b.billing_period.isoformat(), b.reason] for b in self.blocked],
            "unassigned": [
                [
                    u.payer_account_id,
                    u.billing_period.isoformat(),
                    str(u.amortized_cost),
                    None if u.limit is None else str(u.limit),
                ]
                for u in self.unassigned
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CloseResult:
        return cls(
            locked=[LockedInvoice(c, date.fromisoformat(p), n) for c, p, n in data["locked"]],
            blocked=[BlockedInvoice(c, date.fromisoformat(p), r) for c, p, r in data["blocked"]],
            unassigned=[
                UnassignedCost(payer, date.fromisoformat(p), Decimal(cost), None if limit is None else Decimal(limit))
                for payer, p, cost, limit in data["unassigned"]
            ],
        )


@dataclass(frozen=True)
class ClosePolicy:
    """What the close needs from outside the serving database.

    `unassigned_limits`: payer (or '*' for every payer) -> the largest unassigned cost (CUR currency,
    absolute amortized cost) a payer's month may carry and still be closed; no entry: no limit.
    `unloaded`: (payer, billing period) pairs with a complete delivery in the landing zone that is not
    loaded yet, or a staged version not released yet.
    """

    unassigned_limits: dict[str, Decimal]
    unloaded: frozenset[tuple[str, date]] = frozenset()

    def limit_for(self, payer: str) -> Decimal | None:
        return self.unassigned_limits.get(payer, self.unassigned_limits.get("*"))


def _payer_customers(serving: Database, shadow: str, period: date) -> dict[str, set[str]]:
    """payer -> the customers with published cost on it in `period` (the invoices a payer's problem touches)."""
    rows = serving.fetch_all(
        f"select distinct payer_account_id, customer_id from {shadow}.daily_costs where billing_period = ?",
        (period,),
    )
    customers: dict[str, set[str]] = {}
    for payer, customer in rows:
        customers.setdefault(payer, set()).add(customer)
    return customers


def unassigned_costs(serving: Database, policy: ClosePolicy, period: date, shadow: str) -> list[UnassignedCost]:
    rows = serving.fetch_all(
        f"""select payer_account_id, cast(sum(amortized_cost) as decimal(38, 10)) from {shadow}.daily_costs
        where billing_period = ? and customer_id = ? group by payer_account_id order by payer_account_id""",
        (period, UNASSIGNED_CUSTOMER),
    )
    return [UnassignedCost(payer, period, Decimal(cost), policy.limit_for(payer)) for payer, cost in rows]


def check_close_preconditions(
    serving: Database,
    policy: ClosePolicy,
    period: date,
    candidates: list[tuple[str, str]],
    published_shadow: str = PUBLISHED_SHADOW_SCHEMA,
) -> tuple[list[BlockedInvoice], list[UnassignedCost]]:
    """The invoices of `candidates` ((customer, currency) of `period`) that must not be locked, and why."""
    reasons: dict[str, list[str]] = {}
    fx = dict(
        serving.fetch_all(
            f"select customer_id, fx_rate_period from {published_shadow}.invoices where billing_period = ?",
            (period,),
        )
    )
    for customer, currency in candidates:
        if fx.get(customer) != period:
            used = fx.get(customer)
            reasons.setdefault(customer, []).append(
                f"no fx rate for {currency} in {period:%Y-%m}"
                + (f" (priced with the rate of {used:%Y-%m})" if used else "")
                + ": add it to the rule set's fx_rates"
            )
    on_payer = _payer_customers(serving, published_shadow, period)
    before = _payer_customers(serving, published_shadow, month_before(period))
    live = live_version_facts(serving)
    for payer in sorted(set(before) | set(on_payer)):
        facts = live.get((payer, period))
        if facts is None and payer in before:
            why = f"payer {payer} delivered {month_before(period):%Y-%m} but no CUR for {period:%Y-%m} is loaded"
        elif facts is None:
            why = f"payer {payer} has published cost in {period:%Y-%m} but no loaded CUR of that month"
        elif not facts[1]:
            why = f"payer {payer}'s loaded CUR for {period:%Y-%m} (manifest {facts[0]}) is not final yet"
        else:
            continue
        for customer in before.get(payer, set()) | on_payer.get(payer, set()):
            reasons.setdefault(customer, []).append(why)
    for payer, unloaded_period in sorted(policy.unloaded):
        if unloaded_period == period:
            why = f"payer {payer} has a newer delivery for {period:%Y-%m} that is not loaded yet: run the daily load"
            for customer in on_payer.get(payer, set()):
                reasons.setdefault(customer, []).append(why)
    unassigned = unassigned_costs(serving, policy, period, published_shadow)
    for item in unassigned:
        if item.over_limit:
            why = (
                f"payer {item.payer_account_id} has {item.amortized_cost.normalize():f} of unassigned cost in "
                f"{period:%Y-%m}, above the limit of {item.limit:f}: assign its accounts (account_assignments)"
            )
            for customer in on_payer.get(item.payer_account_id, set()):
                reasons.setdefault(customer, []).append(why)
    blocked = [
        BlockedInvoice(customer, period, "; ".join(dict.fromkeys(reasons[customer])))
        for customer, _ in candidates
        if customer in reasons
    ]
    return blocked, unassigned


def lock_final_invoices(
    serving: Database,
    as_of: date,
    policy: ClosePolicy,
    *,
    release_id: str | None = None,
    locked_at: datetime | None = None,
    shadow: str = BILLING_SHADOW_SCHEMA,
    published_shadow: str = PUBLISHED_SHADOW_SCHEMA,
) -> CloseResult:
    """Lock every provisional invoice of the tested serving models (`shadow`) that is CUR-final, of a month
    that is over, not of the `unassigned` customer, and not blocked by a failed precondition.

    Invoice numbers run per billing period in customer order, continuing after those already issued.
    An invoice is frozen with its lines as the serving model shows them (its published lines and the
    restatement adjustments it carries); the locked total is the model's total and must equal the lines.
    """
    ensure_control_tables(serving)
    stamp = (locked_at or datetime.now(UTC)).replace(tzinfo=None)
    rows = serving.fetch_all(
        f"""select i.customer_id, i.billing_period, i.currency_code, i.total_amount from {shadow}.invoices as i
        where i.status = 'provisional' and i.is_cur_final and i.customer_id <> ?
          and not exists (
              select 1 from {CONTROL_SCHEMA}.invoice_locks as l
              where l.customer_id = i.customer_id and l.billing_period = i.billing_period)
        order by i.billing_period, i.customer_id""",
        (UNASSIGNED_CUSTOMER,),
    )
    due = [row for row in rows if month_after(row[1]) <= as_of]
    issued = dict(
        serving.fetch_all(
            f"select billing_period, count(*) from {CONTROL_SCHEMA}.invoice_locks group by billing_period"
        )
    )
    blocked: list[BlockedInvoice] = []
    unassigned: list[UnassignedCost] = []
    for period in sorted({period for _, period, _, _ in due}):
        candidates = [(c, cur) for c, p, cur, _ in due if p == period]
        period_blocked, period_unassigned = check_close_preconditions(
            serving, policy, period, candidates, published_shadow
        )
        blocked += period_blocked
        unassigned += period_unassigned
    for item in unassigned:
        log.warning(
            "unassigned cost of payer %s in %s: %s (limit %s)",
            item.payer_account_id,
            f"{item.billing_period:%Y-%m}",
            f"{item.amortized_cost.normalize():f}",
            "none" if item.limit is None else f"{item.limit:f}",
        )
    stopped = {(b.customer_id, b.billing_period) for b in blocked}
    locked: list[LockedInvoice] = []
    with serving.transaction():
        for customer_id, period, currency, total in due:
            if (customer_id, period) in stopped:
                continue
            issued[period] = issued.get(period, 0) + 1
            number = invoice_number(period, issued[period])
            serving.execute(
                f"""insert into {CONTROL_SCHEMA}.locked_invoice_lines ({LINE_COLUMNS})
                select customer_id, billing_period, product_code, charge_category, pricing_rule_id,
                    currency_code, amount, line_source, adjusts_billing_period
                from {shadow}.invoice_lines
                where customer_id = ? and billing_period = ? and status = 'provisional'""",
                (customer_id, period),
            )
            ((lines_total,),) = serving.fetch_all(
                f"""select coalesce(sum(amount), 0) from {CONTROL_SCHEMA}.locked_invoice_lines
                where customer_id = ? and billing_period = ?""",
                (customer_id, period),
            )
            if Decimal(lines_total) != Decimal(total):
                raise CloseError(
                    f"invoice of {customer_id} {period:%Y-%m}: its lines add up to {lines_total}, its total is "
                    f"{total}; nothing was locked"
                )
            serving.execute(
                f"insert into {CONTROL_SCHEMA}.invoice_locks (customer_id, billing_period, invoice_number, "
                "currency_code, total_amount, locked_at, release_id) values (?, ?, ?, ?, ?, ?, ?)",
                (customer_id, period, number, currency, total, stamp, release_id),
            )
            locked.append(LockedInvoice(customer_id, period, number))
    log.info("locked %d invoices as of %s; %d blocked", len(locked), as_of, len(blocked))
    for item in blocked:
        log.error("not locked: %s", item.describe())
    return CloseResult(locked, blocked, unassigned)

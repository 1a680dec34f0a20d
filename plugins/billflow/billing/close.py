"""Monthly close: freeze the final invoices of billing periods whose CUR is final and whose month is over.

Restatement after lock (rule 11): when a locked period's published lines change, the difference per
line key becomes adjustment lines on the customer's next open invoice (RESTATEMENT_ADJUSTMENTS_SQL, the
same logic as the dbt serving model `serving_restatement_adjustments`); locking that invoice freezes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from billflow.control.schema import CONTROL_SCHEMA, ensure_control_tables
from billflow.engines.database import Database
from billflow.serving.publish import PUBLISHED_SCHEMA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockedInvoice:
    customer_id: str
    billing_period: date
    invoice_number: str


@dataclass(frozen=True)
class Adjustment:
    """A difference of a restated locked invoice line that is not frozen yet."""

    customer_id: str
    billing_period: date | None  # the open invoice that carries it; None: pending (no open invoice yet)
    adjusts_billing_period: date  # the locked period that was restated
    product_code: str
    charge_category: str
    pricing_rule_id: str
    currency_code: str
    amount: Decimal


ADJUSTMENT_LINE_SOURCE = "adjustment"
LINE_COLUMNS = (
    "customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code, amount, "
    "line_source, adjusts_billing_period"
)

# Per locked invoice (customer, period P) of a period that is still published, and per line key
# (product_code, charge_category, pricing_rule_id, currency_code): current published amount - locked
# amount - adjustments of P already frozen on later locked invoices (a missing line counts 0). A
# non-zero difference goes to the customer's next open invoice: the earliest billing period after P
# with a published invoice of the customer that is not locked (billing_period null: none yet).
# Keep in step with dbt_project/models/serving/serving_restatement_adjustments.sql.
RESTATEMENT_ADJUSTMENTS_SQL = f"""with

published_periods as (

    select distinct billing_period from {PUBLISHED_SCHEMA}.invoices

),

restatable_locks as (

    select invoice_locks.customer_id, invoice_locks.billing_period
    from {CONTROL_SCHEMA}.invoice_locks as invoice_locks
    inner join published_periods
        on invoice_locks.billing_period = published_periods.billing_period

),

open_invoices as (

    select published_invoices.customer_id, published_invoices.billing_period, published_invoices.currency_code
    from {PUBLISHED_SCHEMA}.invoices as published_invoices
    left join {CONTROL_SCHEMA}.invoice_locks as invoice_locks
        on published_invoices.customer_id = invoice_locks.customer_id
        and published_invoices.billing_period = invoice_locks.billing_period
    where invoice_locks.customer_id is null

),

line_amounts as (

    select
        published_lines.customer_id,
        published_lines.billing_period as adjusts_billing_period,
        published_lines.product_code,
        published_lines.charge_category,
        published_lines.pricing_rule_id,
        published_lines.currency_code,
        cast(published_lines.amount as decimal(18, 2)) as published_amount,
        cast(0 as decimal(18, 2)) as locked_amount,
        cast(0 as decimal(18, 2)) as adjusted_amount
    from {PUBLISHED_SCHEMA}.invoice_lines as published_lines
    inner join restatable_locks
        on published_lines.customer_id = restatable_locks.customer_id
        and published_lines.billing_period = restatable_locks.billing_period

    union all

    select
        locked_lines.customer_id,
        locked_lines.billing_period as adjusts_billing_period,
        locked_lines.product_code,
        locked_lines.charge_category,
        locked_lines.pricing_rule_id,
        locked_lines.currency_code,
        cast(0 as decimal(18, 2)) as published_amount,
        cast(locked_lines.amount as decimal(18, 2)) as locked_amount,
        cast(0 as decimal(18, 2)) as adjusted_amount
    from {CONTROL_SCHEMA}.locked_invoice_lines as locked_lines
    inner join restatable_locks
        on locked_lines.customer_id = restatable_locks.customer_id
        and locked_lines.billing_period = restatable_locks.billing_period
    where locked_lines.adjusts_billing_period is null

    union all

    select
        frozen_adjustments.customer_id,
        frozen_adjustments.adjusts_billing_period,
        frozen_adjustments.product_code,
        frozen_adjustments.charge_category,
        frozen_adjustments.pricing_rule_id,
        frozen_adjustments.currency_code,
        cast(0 as decimal(18, 2)) as published_amount,
        cast(0 as decimal(18, 2)) as locked_amount,
        cast(frozen_adjustments.amount as decimal(18, 2)) as adjusted_amount
    from {CONTROL_SCHEMA}.locked_invoice_lines as frozen_adjustments
    inner join restatable_locks
        on frozen_adjustments.customer_id = restatable_locks.customer_id
        and frozen_adjustments.adjusts_billing_period = restatable_locks.billing_period

),

differences as (

    select
        customer_id,
        adjusts_billing_period,
        product_code,
        charge_category,
        pricing_rule_id,
        currency_code,
        cast(sum(published_amount) - sum(locked_amount) - sum(adjusted_amount) as decimal(18, 2)) as amount
    from line_amounts
    group by customer_id, adjusts_billing_period, product_code, charge_category, pricing_rule_id, currency_code

),

-- only onto an invoice in the adjustment's own currency: otherwise it stays pending
next_open_invoices as (

    select
        restated.customer_id,
        restated.adjusts_billing_period,
        restated.currency_code,
        min(open_invoices.billing_period) as billing_period
    from (select distinct customer_id, adjusts_billing_period, currency_code from differences) as restated
    inner join open_invoices
        on restated.customer_id = open_invoices.customer_id
        and open_invoices.billing_period > restated.adjusts_billing_period
        and open_invoices.currency_code = restated.currency_code
    group by restated.customer_id, restated.adjusts_billing_period, restated.currency_code

)

select
    differences.customer_id,
    next_open_invoices.billing_period,
    differences.adjusts_billing_period,
    differences.product_code,
    differences.charge_category,
    differences.pricing_rule_id,
    differences.currency_code,
    differences.amount
from differences
left join next_open_invoices
    on differences.customer_id = next_open_invoices.customer_id
    and differences.adjusts_billing_period = next_open_invoices.adjusts_billing_period
    and differences.currency_code = next_open_invoices.currency_code
where differences.amount <> 0"""


def restatement_adjustments(serving: Database) -> list[Adjustment]:
    """The differences of restated locked invoices not frozen yet, on their open invoice or pending."""
    rows = serving.fetch_all(
        f"""select * from ({RESTATEMENT_ADJUSTMENTS_SQL}) as adjustments
        order by customer_id, adjusts_billing_period, product_code, charge_category, pricing_rule_id, currency_code"""
    )
    return [Adjustment(*row) for row in rows]


def month_after(period: date) -> date:
    return date(period.year + (period.month == 12), period.month % 12 + 1, 1)


def invoice_number(period: date, sequence: int) -> str:
    return f"BF-{period:%Y%m}-{sequence:04d}"


def lock_final_invoices(serving: Database, as_of: date, locked_at: datetime | None = None) -> list[LockedInvoice]:
    """Lock every published invoice that is final and not locked yet; locked invoices are never touched.

    Invoice numbers run per billing period in customer order, continuing after those already issued.
    An invoice is frozen with its published lines and the restatement adjustments it carries (it is the
    customer's next open invoice after a restated locked period); its total includes them.
    """
    ensure_control_tables(serving)
    stamp = (locked_at or datetime.now(UTC)).replace(tzinfo=None)
    candidates = serving.fetch_all(
        f"""select i.customer_id, i.billing_period, i.currency_code, i.total_amount
        from {PUBLISHED_SCHEMA}.invoices as i
        where i.is_cur_final
          and not exists (
              select 1 from {CONTROL_SCHEMA}.invoice_locks as l
              where l.customer_id = i.customer_id and l.billing_period = i.billing_period)
        order by i.billing_period, i.customer_id"""
    )
    issued = dict(
        serving.fetch_all(
            f"select billing_period, count(*) from {CONTROL_SCHEMA}.invoice_locks group by billing_period"
        )
    )
    locked: list[LockedInvoice] = []
    with serving.transaction():
        for customer_id, period, currency, total in candidates:
            if month_after(period) > as_of:
                continue
            issued[period] = issued.get(period, 0) + 1
            number = invoice_number(period, issued[period])
            # the adjustments first: the invoice must still be open to be the one that carries them
            serving.execute(
                f"""insert into {CONTROL_SCHEMA}.locked_invoice_lines ({LINE_COLUMNS})
                select customer_id, billing_period, product_code, charge_category, pricing_rule_id,
                    currency_code, amount, '{ADJUSTMENT_LINE_SOURCE}', adjusts_billing_period
                from ({RESTATEMENT_ADJUSTMENTS_SQL}) as adjustments
                where customer_id = ? and billing_period = ?""",
                (customer_id, period),
            )
            serving.execute(
                f"""insert into {CONTROL_SCHEMA}.locked_invoice_lines ({LINE_COLUMNS})
                select customer_id, billing_period, product_code, charge_category, pricing_rule_id,
                    currency_code, amount, line_source, cast(null as date)
                from {PUBLISHED_SCHEMA}.invoice_lines
                where customer_id = ? and billing_period = ?""",
                (customer_id, period),
            )
            ((adjusted,),) = serving.fetch_all(
                f"""select coalesce(sum(amount), 0) from {CONTROL_SCHEMA}.locked_invoice_lines
                where customer_id = ? and billing_period = ? and adjusts_billing_period is not null""",
                (customer_id, period),
            )
            serving.execute(
                f"insert into {CONTROL_SCHEMA}.invoice_locks values (?, ?, ?, ?, ?, ?)",
                (customer_id, period, number, currency, total + adjusted, stamp),
            )
            locked.append(LockedInvoice(customer_id, period, number))
    log.info("locked %d invoices as of %s", len(locked), as_of)
    return locked

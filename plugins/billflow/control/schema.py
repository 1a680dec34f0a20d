"""Control tables of the serving database; billflow owns their DDL (dbt only reads them).

`ensure_control_tables` creates them and migrates those an earlier version created: a
`locked_invoice_lines` table without the columns of restatement adjustments (`line_source`,
`adjusts_billing_period`) or without `pricing_rule_id` is rebuilt with today's columns and key.
"""

from __future__ import annotations

import logging

from billflow.engines.database import Database
from billflow.serving.shadow import PUBLISHED_SCHEMA

log = logging.getLogger(__name__)

CONTROL_SCHEMA = "billing_control"

LOCKED_INVOICE_LINES_COLUMNS = (
    "customer_id",
    "billing_period",
    "product_code",
    "charge_category",
    "pricing_rule_id",
    "currency_code",
    "amount",
    "line_source",
    "adjusts_billing_period",
)

CONTROL_DDL = (
    f"create schema if not exists {CONTROL_SCHEMA}",
    f"""create table if not exists {CONTROL_SCHEMA}.load_ledger (
        payer_account_id varchar not null,
        billing_period date not null,
        manifest_id varchar not null,
        source_format varchar not null,
        manifest_uri varchar not null,
        raw_row_count bigint not null,
        unblended_cost decimal(38, 10) not null,
        loaded_at timestamp not null,
        primary key (payer_account_id, billing_period, manifest_id)
    )""",
    f"""create table if not exists {CONTROL_SCHEMA}.invoice_locks (
        customer_id varchar not null,
        billing_period date not null,
        invoice_number varchar not null,
        currency_code varchar not null,
        total_amount decimal(18, 2) not null,
        locked_at timestamp not null,
        primary key (customer_id, billing_period)
    )""",
    # one row per version of a staged (payer, billing period) partition that went live; the live one has
    # retired_in null. released_in / retired_in are release ids (sortable): the versions behind release R
    # are those with released_in <= R and (retired_in is null or retired_in > R).
    f"""create table if not exists {CONTROL_SCHEMA}.staged_versions (
        payer_account_id varchar not null,
        billing_period date not null,
        version_id varchar not null,
        manifest_id varchar not null,
        manifest_key varchar not null,
        source_format varchar not null,
        raw_row_count bigint not null,
        staged_row_count bigint not null,
        unblended_cost decimal(38, 10) not null,
        is_final boolean not null,
        released_in varchar not null,
        retired_in varchar,
        purged_at timestamp,
        primary key (payer_account_id, billing_period, version_id)
    )""",
    f"""create table if not exists {CONTROL_SCHEMA}.releases (
        release_id varchar not null primary key,
        run_id varchar not null,
        kind varchar not null,
        released_at timestamp not null,
        versions_released integer not null
    )""",
    # a delivery that was not loaded, open until it is resolved (a newer version of its partition went live,
    # or its manifest changed or left the landing zone)
    f"""create table if not exists {CONTROL_SCHEMA}.delivery_rejections (
        manifest_key varchar not null,
        manifest_id varchar not null,
        payer_account_id varchar,
        billing_period date,
        stage varchar not null,
        reason varchar not null,
        first_seen_at timestamp not null,
        last_seen_at timestamp not null,
        resolved_at timestamp,
        resolution varchar,
        primary key (manifest_key, manifest_id)
    )""",
    # the single-run lock of loads and closes (billflow.control.runlock); one row, name 'billflow'
    f"""create table if not exists {CONTROL_SCHEMA}.run_lock (
        lock_name varchar not null primary key,
        token varchar,
        holder varchar,
        acquired_at timestamp,
        expires_at timestamp
    )""",
)

# columns added to a control table after it was first created: (table, column, type)
ADDED_COLUMNS = (("invoice_locks", "release_id", "varchar"),)


def locked_invoice_lines_ddl(table: str = f"{CONTROL_SCHEMA}.locked_invoice_lines") -> str:
    """A locked invoice's lines: its own lines (adjusts_billing_period null) and the adjustment lines
    of restated earlier periods (line_source 'adjustment', adjusts_billing_period = that period).

    An adjustment line may have the product, category, rule and currency of one of the invoice's own
    lines, so the key includes adjusts_billing_period; a nullable column cannot be in a primary key, so
    it is a unique constraint (the own lines are unique per line key in the published mart, and an
    invoice's lines are inserted once, with its lock; dbt tests the whole key null-safely).
    """
    return f"""create table {table} (
        customer_id varchar not null,
        billing_period date not null,
        product_code varchar not null,
        charge_category varchar not null,
        pricing_rule_id varchar not null,
        currency_code varchar not null,
        amount decimal(18, 2) not null,
        line_source varchar not null,
        adjusts_billing_period date,
        unique (customer_id, billing_period, product_code, charge_category, pricing_rule_id, currency_code,
            adjusts_billing_period)
    )"""


def ensure_control_tables(db: Database) -> None:
    """Create the control tables, or bring those of an earlier version up to date (idempotent)."""
    for statement in CONTROL_DDL:
        db.execute(statement)
    for table, column, sql_type in ADDED_COLUMNS:
        if column not in table_columns(db, CONTROL_SCHEMA, table):
            db.execute(f"alter table {CONTROL_SCHEMA}.{table} add column {column} {sql_type}")
    # an invoice number is issued once (a missing lock row must never let a number be reused silently)
    db.execute(
        f"create unique index if not exists invoice_locks_number on {CONTROL_SCHEMA}.invoice_locks (invoice_number)"
    )
    db.execute(
        f"insert into {CONTROL_SCHEMA}.run_lock (lock_name) select 'billflow' "
        f"where not exists (select 1 from {CONTROL_SCHEMA}.run_lock where lock_name = 'billflow')"
    )
    existing = table_columns(db, CONTROL_SCHEMA, "locked_invoice_lines")
    if not existing:
        db.execute(locked_invoice_lines_ddl())
    elif set(LOCKED_INVOICE_LINES_COLUMNS) - set(existing):
        _migrate_locked_invoice_lines(db)


def table_columns(db: Database, schema: str, table: str) -> list[str]:
    """The column names of schema.table in table order; empty when there is no such table."""
    rows = db.fetch_all(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        (schema, table),
    )
    return [str(name).lower() for (name,) in rows]


def _backfill_expressions(db: Database, existing: list[str]) -> dict[str, str]:
    """What each column of an earlier version's locked line (alias `old`) becomes in today's table.

    * line_source: the earlier versions locked only published lines: 'custom' for a custom item
      ('CUSTOM:<item_id>'), 'tax' for the tax-rate line ('TAX'), otherwise 'aws';
    * adjusts_billing_period: null (an invoice's own line: there were no adjustment lines);
    * pricing_rule_id: the rule of the only published line of the same customer, period, product
      and charge category, so that an unchanged invoice is not restated; 'unrecorded' where there
      is no such single line (a restatement then shows the locked line and the published one
      separately, which still adds up to the exact difference).
    """
    expressions = {column: f"old.{column}" for column in existing if column in LOCKED_INVOICE_LINES_COLUMNS}
    expressions.setdefault(
        "line_source",
        "case when substr(old.product_code, 1, 7) = 'CUSTOM:' then 'custom' "
        "when old.product_code = 'TAX' then 'tax' else 'aws' end",
    )
    expressions.setdefault("adjusts_billing_period", "cast(null as date)")
    if "pricing_rule_id" not in expressions:
        published = set(table_columns(db, PUBLISHED_SCHEMA, "invoice_lines"))
        if {"customer_id", "billing_period", "product_code", "charge_category", "pricing_rule_id"} <= published:
            expressions["pricing_rule_id"] = f"""coalesce(
                (select max(p.pricing_rule_id) from {PUBLISHED_SCHEMA}.invoice_lines as p
                 where p.customer_id = old.customer_id and p.billing_period = old.billing_period
                   and p.product_code = old.product_code and p.charge_category = old.charge_category
                 having count(*) = 1),
                'unrecorded')"""
        else:
            expressions["pricing_rule_id"] = "'unrecorded'"
    missing = [column for column in LOCKED_INVOICE_LINES_COLUMNS if column not in expressions]
    if missing:
        raise RuntimeError(
            f"{CONTROL_SCHEMA}.locked_invoice_lines lacks {missing}: no migration from this version is known"
        )
    return expressions


def _migrate_locked_invoice_lines(db: Database) -> None:
    """Rebuild locked_invoice_lines with today's columns and key, in one transaction.

    A rebuild, not `alter table add column`: the key changes (an invoice may carry an adjustment
    line beside its own line of the same product, category and rule), and DuckDB cannot drop a
    primary key.
    """
    table = f"{CONTROL_SCHEMA}.locked_invoice_lines"
    new_name = "locked_invoice_lines__migrating"
    columns = ", ".join(LOCKED_INVOICE_LINES_COLUMNS)
    with db.transaction():
        existing = table_columns(db, CONTROL_SCHEMA, "locked_invoice_lines")  # unless another process did it
        if not set(LOCKED_INVOICE_LINES_COLUMNS) - set(existing):
            return
        expressions = _backfill_expressions(db, existing)
        values = ",\n            ".join(f"{expressions[c]} as {c}" for c in LOCKED_INVOICE_LINES_COLUMNS)
        db.execute(f"drop table if exists {CONTROL_SCHEMA}.{new_name}")
        db.execute(locked_invoice_lines_ddl(f"{CONTROL_SCHEMA}.{new_name}"))
        db.execute(
            f"insert into {CONTROL_SCHEMA}.{new_name} ({columns})\n        select {values}\n        from {table} as old"
        )
        db.execute(f"drop table {table}")
        db.execute(f"alter table {CONTROL_SCHEMA}.{new_name} rename to locked_invoice_lines")
    missing = sorted(set(LOCKED_INVOICE_LINES_COLUMNS) - set(existing))
    log.info("migrated %s: added %s", table, ", ".join(missing))

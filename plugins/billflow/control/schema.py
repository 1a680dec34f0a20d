"""Control tables of the serving database; billflow owns their DDL (dbt only reads them)."""

from __future__ import annotations

from billflow.engines.database import Database

CONTROL_SCHEMA = "billing_control"

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
    f"""create table if not exists {CONTROL_SCHEMA}.locked_invoice_lines (
        customer_id varchar not null,
        billing_period date not null,
        product_code varchar not null,
        charge_category varchar not null,
        pricing_rule_id varchar not null,
        currency_code varchar not null,
        amount decimal(18, 2) not null,
        primary key (customer_id, billing_period, product_code, charge_category, pricing_rule_id)
    )""",
)


def ensure_control_tables(db: Database) -> None:
    for statement in CONTROL_DDL:
        db.execute(statement)

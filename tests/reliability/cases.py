"""Bad deliveries, each a re-delivery of payer 1's loaded September (legacy report `cur`), shaped the way
real CUR buckets and careless operators produce them. Each writes itself into a landing zone and returns
the manifest key it wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tests.reliability.deliveries import (
    PAYER_1,
    PAYER_2,
    land_legacy,
    legacy_keys,
    raw_lines,
    where,
    with_values,
    write_file,
)


@dataclass(frozen=True)
class Case:
    name: str
    land: Callable[[Path], str]
    manifest_id: str  # the rejection's manifest id ('' when the manifest cannot be read)


def _lines() -> pa.Table:
    return raw_lines(PAYER_1, "legacy")


def _bad_json(root: Path) -> str:
    _, key = legacy_keys(PAYER_1)
    write_file(root, key, b'{"assemblyId": "assembly-2", "account": ')
    return key


def _missing_id(root: Path) -> str:
    key = land_legacy(root, _lines(), "assembly-2")
    body = json.loads((root / key).read_text())
    del body["assemblyId"]
    write_file(root, key, json.dumps(body).encode())
    return key


def _period_as_string(root: Path) -> str:
    return land_legacy(root, _lines(), "assembly-2", billingPeriod="20260901T000000.000Z")


def _report_key_not_a_string(root: Path) -> str:
    data_key, _ = legacy_keys(PAYER_1)
    return land_legacy(root, _lines(), "assembly-2", reportKeys=[data_key, 7])


def _traversing_id(root: Path) -> str:
    return land_legacy(root, _lines(), "x/../..")


def _key_of_another_payer(root: Path) -> str:
    other_data, _ = legacy_keys(PAYER_2)
    return land_legacy(root, _lines(), "assembly-2", reportKeys=[f"../{other_data}"])


def _quote_and_semicolon_in_id(root: Path) -> str:
    return land_legacy(root, _lines(), "a';drop table x;--")


def _quote_in_report_name(root: Path) -> str:
    report = "cur'x"
    data_key, manifest_key = (
        k.replace("/cur/", f"/{report}/").replace("/cur-", f"/{report}-") for k in legacy_keys(PAYER_1)
    )
    write_file(root, data_key, b"")
    body = {
        "assemblyId": "assembly-2",
        "account": PAYER_1,
        "reportName": report,
        "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
        "bucket": "billflow-landing",
        "reportKeys": [data_key],
    }
    write_file(root, manifest_key, json.dumps(body).encode())
    return manifest_key


def _listed_file_missing(root: Path) -> str:
    key = land_legacy(root, None, "assembly-2")
    (root / legacy_keys(PAYER_1)[0]).unlink()
    return key


def _corrupt_parquet(root: Path) -> str:
    key = land_legacy(root, None, "assembly-2")
    write_file(root, legacy_keys(PAYER_1)[0], b"PAR1 this is not a parquet file")
    return key


def _missing_required_column(root: Path) -> str:
    return land_legacy(root, _lines().drop_columns(["line_item_line_item_type"]), "assembly-2")


def _non_numeric_cost(root: Path) -> str:
    table = _lines()
    costs = [str(v) for v in table.column("line_item_unblended_cost").to_pylist()]
    costs[0] = "1,25"
    table = table.set_column(
        table.schema.get_field_index("line_item_unblended_cost"), "line_item_unblended_cost", pa.array(costs)
    )
    return land_legacy(root, table, "assembly-2")


def _empty_delivery(root: Path) -> str:
    return land_legacy(root, _lines().slice(0, 0), "assembly-2")


def _duplicate_line_items(root: Path) -> str:
    table = _lines()
    return land_legacy(root, pa.concat_tables([table, table.slice(0, 1)]), "assembly-2")


def _unknown_payer_in_lines(root: Path) -> str:
    table = _lines()
    return land_legacy(root, with_values(table, "bill_payer_account_id", [PAYER_2] * table.num_rows), "assembly-2")


def _malformed_account(root: Path) -> str:
    table = _lines()
    accounts = table.column("line_item_usage_account_id").to_pylist()
    accounts[where(table, "Usage")[0]] = "1000-0000-0001"
    return land_legacy(root, with_values(table, "line_item_usage_account_id", accounts), "assembly-2")


def _mixed_currency(root: Path) -> str:
    table = _lines()
    currencies = table.column("line_item_currency_code").to_pylist()
    currencies[where(table, "Usage")[0]] = "EUR"
    return land_legacy(root, with_values(table, "line_item_currency_code", currencies), "assembly-2")


def _negative_usage(root: Path) -> str:
    table = _lines()
    amounts = table.column("line_item_usage_amount").to_pylist()
    amounts[where(table, "Usage")[1]] = -3.0
    return land_legacy(root, with_values(table, "line_item_usage_amount", amounts), "assembly-2")


def _usage_outside_the_period(root: Path) -> str:
    table = _lines()
    starts = table.column("line_item_usage_start_date").to_pylist()
    index = where(table, "Usage")[0]
    starts[index] = starts[index].replace(month=10, day=2)
    return land_legacy(root, with_values(table, "line_item_usage_start_date", starts), "assembly-2")


def _unknown_line_item_type(root: Path) -> str:
    table = _lines()
    types = table.column("line_item_line_item_type").to_pylist()
    types[where(table, "Credit")[0]] = "PromotionalCredit"
    return land_legacy(root, with_values(table, "line_item_line_item_type", types), "assembly-2")


REJECTED = [
    Case("bad JSON", _bad_json, ""),
    Case("a manifest without its id", _missing_id, ""),
    Case("billingPeriod given as a string", _period_as_string, ""),
    Case("a report key that is not a string", _report_key_not_a_string, ""),
    Case("path traversal in the id", _traversing_id, ""),
    Case("a key outside the delivery's prefix", _key_of_another_payer, ""),
    Case("quotes and semicolons in the id", _quote_and_semicolon_in_id, ""),
    Case("a quote in the report name", _quote_in_report_name, ""),
    Case("a listed file missing past the grace period", _listed_file_missing, "assembly-2"),
    Case("corrupt Parquet", _corrupt_parquet, "assembly-2"),
    Case("a missing required column", _missing_required_column, "assembly-2"),
    Case("a non-numeric cost", _non_numeric_cost, "assembly-2"),
    Case("an empty delivery", _empty_delivery, "assembly-2"),
    Case("duplicate line items", _duplicate_line_items, "assembly-2"),
    Case("lines of another payer", _unknown_payer_in_lines, "assembly-2"),
    Case("a usage account that is not an account id", _malformed_account, "assembly-2"),
    Case("mixed currency", _mixed_currency, "assembly-2"),
    Case("negative usage", _negative_usage, "assembly-2"),
    Case("usage outside the period", _usage_outside_the_period, "assembly-2"),
    Case("an unknown line item type", _unknown_line_item_type, "assembly-2"),
]

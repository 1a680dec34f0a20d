"""The sample CUR generator: layouts, manifests, determinism and the relationships between line items."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billflow.formats import columns as cols
from billflow_dev.__main__ import main
from billflow_dev.generator import (
    LINE_ITEM_TYPES,
    MAX_PAYERS,
    GeneratorError,
    generate_cur,
    linked_account_id,
    minimum_rows,
    payer_account_id,
    spread_accounts,
)
from tests.conftest import ROOT

PERIOD = "2026-09"
SMALL = {"period": PERIOD, "payers": 2, "accounts": 3, "days": 5, "rows": 6000, "seed": 7}
# the realistic shape with its defaults (10 payers, 2000 linked accounts) at a small row count, and the
# small shape at the same row count
SHAPES = {"period": PERIOD, "days": 5, "rows": 40_000, "seed": 7}
COST_COLUMNS = (
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "pricing_public_on_demand_cost",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
)


def dec(x: float | None) -> Decimal:
    return Decimal(repr(x)) if x is not None else Decimal(0)


def read_rows(delivery) -> list[dict]:
    return [row for path in delivery.data_paths for row in pq.read_table(path).to_pylist()]


def by_type(rows: list[dict], line_item_type: str) -> list[dict]:
    return [r for r in rows if r["line_item_line_item_type"] == line_item_type]


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    return generate_cur(out, fmt="mixed", **SMALL)


@pytest.fixture(scope="module")
def legacy(mixed):
    return mixed.deliveries[0]


@pytest.fixture(scope="module")
def cur2(mixed):
    return mixed.deliveries[1]


@pytest.fixture(scope="module")
def legacy_rows(legacy):
    return read_rows(legacy)


@pytest.fixture(scope="module")
def cur2_rows(cur2):
    return read_rows(cur2)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    return generate_cur(tmp_path_factory.mktemp("realistic"), shape="realistic", fmt="mixed", **SHAPES)


@pytest.fixture(scope="module")
def realistic_rows(realistic):
    """Rows of payer 9 (legacy, 109 linked accounts) and payer 10 (CUR 2.0, 101 linked accounts)."""
    return {d.source_format: read_rows(d) for d in realistic.deliveries[8:]}


@pytest.fixture(scope="module", params=["legacy", "cur2", "realistic-legacy", "realistic-cur2"])
def rows(request, legacy_rows, cur2_rows, realistic_rows):
    if request.param.startswith("realistic-"):
        return realistic_rows[request.param.removeprefix("realistic-")]
    return legacy_rows if request.param == "legacy" else cur2_rows


def parquet_counts(root: Path) -> dict[str, int]:
    """Counted with DuckDB over every data file under `root` (legacy and CUR 2.0 columns side by side)."""
    files = f"read_parquet('{root}/**/*.parquet', union_by_name = true)"
    names = ("lines", "payers", "linked_accounts", "linked_accounts_on_day_1", "usage_types", "resources", "products")
    with duckdb.connect() as con:
        row = con.execute(
            f"""
            select
                count(*),
                count(distinct bill_payer_account_id),
                count(distinct line_item_usage_account_id) filter (line_item_usage_account_id <> bill_payer_account_id),
                count(distinct line_item_usage_account_id) filter (
                    line_item_usage_account_id <> bill_payer_account_id
                    and line_item_line_item_type = 'Usage' and day(line_item_usage_start_date) = 1
                ),
                count(distinct nullif(line_item_usage_type, '')) filter (line_item_line_item_type = 'Usage'),
                count(distinct nullif(line_item_resource_id, '')),
                count(distinct line_item_product_code) filter (line_item_line_item_type = 'Usage')
            from {files}
            """
        ).fetchone()
    return dict(zip(names, row, strict=True))


# ---- layout and manifests ----------------------------------------------------------------------


def test_account_ids_follow_the_architecture_rule():
    assert payer_account_id(1) == "111111111111"
    assert payer_account_id(2) == "222222222222"
    assert linked_account_id(1, 1) == "100000000001"
    assert linked_account_id(2, 3) == "200000000003"


def test_payers_from_ten_on_have_distinct_twelve_digit_ids_apart_from_every_other_id():
    assert [payer_account_id(i) for i in range(1, 10)] == [str(i) * 12 for i in range(1, 10)]
    assert payer_account_id(10) == "910000000000"
    assert payer_account_id(99) == "999000000000"
    assert linked_account_id(10, 1) == "910000000001"
    assert linked_account_id(12, 3) == "912000000003"
    assert linked_account_id(99, 10_000) == "999000010000"
    payer_ids = [payer_account_id(i) for i in range(1, MAX_PAYERS + 1)]
    linked_ids = [linked_account_id(i, j) for i in range(1, MAX_PAYERS + 1) for j in [*range(1, 300), 9_999, 10_000]]
    assert all(re.fullmatch(r"\d{12}", x) for x in payer_ids + linked_ids)
    assert len(set(payer_ids)) == MAX_PAYERS == 99
    assert len(set(linked_ids)) == len(linked_ids)
    assert not set(payer_ids) & set(linked_ids)


def test_linked_accounts_in_all_are_spread_unevenly_over_the_payers():
    assert spread_accounts(2000, 10) == [502, 310, 233, 191, 163, 144, 129, 118, 109, 101]
    assert spread_accounts(3, 3) == [1, 1, 1]
    assert spread_accounts(10, 2) == [6, 4]


def test_mixed_gives_odd_payers_legacy_and_even_payers_cur2(mixed):
    assert [(d.payer_account_id, d.source_format) for d in mixed.deliveries] == [
        ("111111111111", "legacy"),
        ("222222222222", "cur2"),
    ]
    assert mixed.deliveries[0].linked_account_ids == ("100000000001", "100000000002", "100000000003")


def test_legacy_layout_repeats_the_report_name_and_does_not_pad_the_month(mixed, legacy):
    report = "billflow-cur-111111111111"
    assert legacy.report_name == report
    assert legacy.data_keys == (f"111111111111/{report}/{report}/year=2026/month=9/{report}-00001.snappy.parquet",)
    assert legacy.manifest_key == f"111111111111/{report}/20260901-20261001/{report}-Manifest.json"
    assert legacy.manifest_path == mixed.out_dir / legacy.manifest_key
    assert all((mixed.out_dir / key).is_file() for key in legacy.data_keys)


def test_cur2_layout_uses_billing_period_partitions(mixed, cur2):
    export = "billflow-export-222222222222"
    assert cur2.data_keys == (f"222222222222/{export}/data/BILLING_PERIOD=2026-09/{export}-00001.snappy.parquet",)
    assert cur2.manifest_key == f"222222222222/{export}/metadata/BILLING_PERIOD=2026-09/{export}-Manifest.json"
    assert all((mixed.out_dir / key).is_file() for key in cur2.data_keys)


def test_legacy_manifest_has_the_aws_fields(mixed, legacy):
    manifest = json.loads(legacy.manifest_path.read_text())
    assert list(manifest) == [
        "assemblyId",
        "account",
        "columns",
        "charset",
        "compression",
        "contentType",
        "reportId",
        "reportName",
        "billingPeriod",
        "bucket",
        "reportKeys",
        "additionalArtifactKeys",
    ]
    assert manifest["assemblyId"] == legacy.manifest_id
    assert manifest["account"] == "111111111111"
    assert manifest["compression"] == "Parquet"
    assert manifest["contentType"] == "Parquet"
    assert manifest["reportName"] == "billflow-cur-111111111111"
    assert manifest["billingPeriod"] == {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"}
    assert manifest["bucket"] == "billflow-landing"
    assert manifest["reportKeys"] == list(legacy.data_keys)
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["reportId"])
    assert manifest["columns"][0] == {"category": "identity", "name": "LineItemId", "type": "String"}
    assert {"category": "resourceTags", "name": "user:team", "type": "OptionalString"} in manifest["columns"]
    assert len(manifest["columns"]) == len(cols.LEGACY_COLUMNS)


def test_cur2_manifest_has_the_aws_fields_and_full_s3_uris(mixed, cur2):
    manifest = json.loads(cur2.manifest_path.read_text())
    assert list(manifest) == ["executionId", "exportArn", "columns", "dataFiles", "additionalOutputFiles"]
    assert manifest["executionId"] == cur2.manifest_id
    assert re.fullmatch(
        r"arn:aws:bcm-data-exports:us-east-1:222222222222:export/billflow-export-222222222222-[0-9a-f-]{36}",
        manifest["exportArn"],
    )
    assert manifest["dataFiles"] == [f"s3://billflow-landing/{key}" for key in cur2.data_keys]
    assert manifest["additionalOutputFiles"] == []
    assert [c["name"] for c in manifest["columns"]] == list(cols.column_names("cur2"))
    assert {"name": "resource_tags", "type": "map<string,string>"} in manifest["columns"]
    assert {"name": "discount", "type": "map<string,double>"} in manifest["columns"]


def test_manifest_is_written_after_every_data_file(mixed):
    for delivery in mixed.deliveries:
        manifest_time = delivery.manifest_path.stat().st_mtime_ns
        assert all(p.stat().st_mtime_ns <= manifest_time for p in delivery.data_paths)
    assert not [p for p in mixed.out_dir.rglob("*") if p.name.endswith(".tmp")]


def test_rows_per_file_splits_the_data_into_numbered_files(tmp_path):
    result = generate_cur(tmp_path, **{**SMALL, "payers": 1}, fmt="legacy", rows_per_file=1000)
    delivery = result.deliveries[0]
    counts = [pq.ParquetFile(p).metadata.num_rows for p in delivery.data_paths]
    assert [k.rsplit("-", 1)[1] for k in delivery.data_keys] == [
        f"{n:05d}.snappy.parquet" for n in range(1, len(counts) + 1)
    ]
    assert all(c == 1000 for c in counts[:-1]) and 0 < counts[-1] <= 1000
    assert sum(counts) == delivery.row_count


def test_data_files_are_snappy_parquet_with_the_format_schema(mixed):
    for delivery in mixed.deliveries:
        for path in delivery.data_paths:
            meta = pq.ParquetFile(path).metadata
            assert meta.row_group(0).column(0).compression == "SNAPPY"
            assert pq.read_schema(path).equals(cols.schema(delivery.source_format))


def test_schemas_name_region_and_map_columns_per_format():
    legacy, cur2 = cols.schema("legacy"), cols.schema("cur2")
    assert legacy.field("product_region").type == pa.string()
    assert "product_region_code" not in legacy.names
    assert cur2.field("product_region_code").type == pa.string()
    assert "product_region" not in cur2.names
    assert legacy.field("resource_tags_user_team").type == pa.string()
    assert legacy.field("resource_tags_user_project").type == pa.string()
    for name in ("product", "resource_tags", "cost_category", "tags"):
        assert cur2.field(name).type == pa.map_(pa.string(), pa.string())
    assert cur2.field("discount").type == pa.map_(pa.string(), pa.float64())
    for schema in (legacy, cur2):
        assert schema.field("line_item_unblended_cost").type == pa.float64()
        assert schema.field("line_item_usage_start_date").type == pa.timestamp("ms")
        assert schema.field("bill_billing_period_start_date").type == pa.timestamp("ms")
        assert schema.field("line_item_usage_account_id").type == pa.string()
    for name in (
        "bill_payer_account_name",
        "line_item_usage_account_name",
        "line_item_net_unblended_cost",
        "savings_plan_net_savings_plan_effective_cost",
        "reservation_net_effective_cost",
    ):
        assert name in cur2.names and name not in legacy.names
    assert cols.legacy_tag_column("user:team") == "resource_tags_user_team"


def test_cur2_map_columns_hold_tags_and_discounts(cur2_rows):
    tag_keys = {k for r in cur2_rows for k, _v in r["resource_tags"]}
    assert tag_keys == {"user:team", "user:project"}
    assert all(dict(r["product"])["product_name"] for r in cur2_rows)
    edp = by_type(cur2_rows, "EdpDiscount")[0]
    assert dict(edp["discount"]) == {
        "edp_discount": edp["line_item_unblended_cost"],
        "total_discount": edp["line_item_unblended_cost"],
    }
    assert by_type(cur2_rows, "Usage")[0]["discount"] == []


# ---- determinism and redelivery ----------------------------------------------------------------


def test_same_seed_and_options_give_byte_identical_files(tmp_path):
    first = generate_cur(tmp_path / "a", fmt="mixed", **SMALL)
    second = generate_cur(tmp_path / "b", fmt="mixed", **SMALL)
    assert files_under(tmp_path / "a") == files_under(tmp_path / "b")
    assert [d.manifest_id for d in first.deliveries] == [d.manifest_id for d in second.deliveries]


def test_another_seed_gives_other_figures(tmp_path, mixed):
    other = generate_cur(tmp_path, fmt="mixed", **{**SMALL, "seed": 8})
    assert [d.unblended_cost for d in other.deliveries] != [d.unblended_cost for d in mixed.deliveries]


def test_redeliver_keeps_keys_but_changes_manifest_id_and_figures(tmp_path):
    first = generate_cur(tmp_path, fmt="mixed", **SMALL)
    before = files_under(tmp_path)
    again = generate_cur(tmp_path, fmt="mixed", redeliver=True, **SMALL)
    after = files_under(tmp_path)
    assert sorted(after) == sorted(before)
    for old, new in zip(first.deliveries, again.deliveries, strict=True):
        assert new.data_keys == old.data_keys
        assert new.manifest_key == old.manifest_key
        assert new.manifest_id != old.manifest_id
        assert new.unblended_cost != old.unblended_cost
        body = json.loads(new.manifest_path.read_text())
        assert new.manifest_id in (body.get("assemblyId"), body.get("executionId"))
        assert all(before[k] != after[k] for k in new.data_keys)


def test_redelivery_with_fewer_files_deletes_the_unlisted_data_files(tmp_path):
    options = {**SMALL, "payers": 1}
    first = generate_cur(tmp_path, fmt="legacy", rows_per_file=1000, **options).deliveries[0]
    assert len(first.data_keys) > 1
    again = generate_cur(tmp_path, fmt="legacy", redeliver=True, **options).deliveries[0]
    folder = again.data_paths[0].parent
    assert sorted(p.name for p in folder.iterdir()) == [again.data_paths[0].name]
    assert len(again.data_keys) == 1


def test_month_to_date_covers_days_one_to_n(legacy_rows):
    starts = {r["line_item_usage_start_date"].day for r in legacy_rows}
    assert starts == {1, 2, 3, 4, 5}
    assert {r["bill_billing_period_start_date"].isoformat() for r in legacy_rows} == {"2026-09-01T00:00:00"}
    assert {r["bill_billing_period_end_date"].isoformat() for r in legacy_rows} == {"2026-10-01T00:00:00"}


# ---- line items --------------------------------------------------------------------------------


def test_every_line_item_type_is_present_in_both_formats(rows):
    assert {r["line_item_line_item_type"] for r in rows} == set(LINE_ITEM_TYPES)


def test_result_counts_and_totals_match_the_files(mixed):
    for delivery in mixed.deliveries:
        data = read_rows(delivery)
        assert len(data) == delivery.row_count
        counts = defaultdict(int)
        for r in data:
            counts[r["line_item_line_item_type"]] += 1
        assert dict(counts) == delivery.rows_by_line_item_type
        assert sum(dec(r["line_item_unblended_cost"]) for r in data) == delivery.unblended_cost
        assert len({r["identity_line_item_id"] for r in data}) == len(data)


def amortized(r: dict) -> Decimal:
    t = r["line_item_line_item_type"]
    if t == "SavingsPlanCoveredUsage":
        return dec(r["savings_plan_savings_plan_effective_cost"])
    if t == "SavingsPlanRecurringFee":
        return dec(r["savings_plan_total_commitment_to_date"]) - dec(r["savings_plan_used_commitment"])
    if t in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if t == "DiscountedUsage":
        return dec(r["reservation_effective_cost"])
    if t == "RIFee":
        return dec(r["reservation_unused_amortized_upfront_fee_for_billing_period"]) + dec(
            r["reservation_unused_recurring_fee"]
        )
    if t == "Fee" and r["reservation_reservation_a_r_n"]:
        return Decimal(0)
    return dec(r["line_item_unblended_cost"])


def test_result_amortized_cost_follows_the_domain_rule(mixed):
    for delivery in mixed.deliveries:
        assert sum(amortized(r) for r in read_rows(delivery)) == delivery.amortized_cost


def test_costs_are_doubles_with_at_most_eight_decimals(rows):
    for r in rows:
        for name in COST_COLUMNS:
            if r[name] is not None:
                assert dec(r[name]).as_tuple().exponent >= -8, (name, r[name])
    assert {r["line_item_currency_code"] for r in rows} == {"USD"}


def test_sp_negation_cancels_covered_unblended_per_account_and_day(rows):
    net = defaultdict(Decimal)
    for r in rows:
        if r["line_item_line_item_type"] in ("SavingsPlanCoveredUsage", "SavingsPlanNegation"):
            key = (
                r["line_item_usage_account_id"],
                r["line_item_usage_start_date"],
                r["savings_plan_savings_plan_a_r_n"],
            )
            net[key] += dec(r["line_item_unblended_cost"])
    assert net and all(v == 0 for v in net.values())
    covered = by_type(rows, "SavingsPlanCoveredUsage")
    assert all(
        dec(r["line_item_unblended_cost"]) == dec(r["pricing_public_on_demand_cost"]) > 0
        and 0 < dec(r["savings_plan_savings_plan_effective_cost"]) < dec(r["line_item_unblended_cost"])
        for r in covered
    )


def test_sp_used_commitment_is_the_days_covered_effective_cost_of_the_plan(rows):
    used = defaultdict(Decimal)
    for r in by_type(rows, "SavingsPlanCoveredUsage"):
        used[(r["savings_plan_savings_plan_a_r_n"], r["line_item_usage_start_date"])] += dec(
            r["savings_plan_savings_plan_effective_cost"]
        )
    fees = by_type(rows, "SavingsPlanRecurringFee")
    assert len(fees) == 2 * 5  # two plans, five days
    for fee in fees:
        key = (fee["savings_plan_savings_plan_a_r_n"], fee["line_item_usage_start_date"])
        assert dec(fee["savings_plan_used_commitment"]) == used[key]
        assert dec(fee["savings_plan_used_commitment"]) <= dec(fee["savings_plan_total_commitment_to_date"])
        recurring = dec(fee["savings_plan_recurring_commitment_for_billing_period"])
        upfront = dec(fee["savings_plan_amortized_upfront_commitment_for_billing_period"])
        assert recurring + upfront == dec(fee["savings_plan_total_commitment_to_date"])
        assert dec(fee["line_item_unblended_cost"]) == recurring
        owner = fee["savings_plan_savings_plan_a_r_n"].split(":")[4]
        assert fee["line_item_usage_account_id"] == owner
        assert fee["line_item_product_code"] == "ComputeSavingsPlans"


def test_sp_covered_usage_is_shared_with_accounts_other_than_the_owner(rows):
    covered = by_type(rows, "SavingsPlanCoveredUsage")
    assert all(
        re.fullmatch(r"arn:aws:savingsplans::\d{12}:savingsplan/[0-9a-f-]{36}", r["savings_plan_savings_plan_a_r_n"])
        for r in covered
    )
    assert any(r["line_item_usage_account_id"] != r["savings_plan_savings_plan_a_r_n"].split(":")[4] for r in covered)


def test_sp_upfront_fee_is_one_purchase_row_on_the_owner_on_day_one(rows):
    (fee,) = by_type(rows, "SavingsPlanUpfrontFee")
    assert fee["line_item_usage_start_date"].day == 1
    assert fee["line_item_usage_account_id"] == fee["savings_plan_savings_plan_a_r_n"].split(":")[4]
    assert dec(fee["line_item_unblended_cost"]) > 0
    assert fee["bill_bill_type"] == "Purchase"


def test_ri_discounted_usage_fees_and_unused_amounts_are_consistent(rows):
    discounted = by_type(rows, "DiscountedUsage")
    ri_fees = {r["reservation_reservation_a_r_n"]: r for r in by_type(rows, "RIFee")}
    assert len(ri_fees) == 2
    for r in discounted:
        assert dec(r["line_item_unblended_cost"]) == 0
        assert dec(r["pricing_public_on_demand_cost"]) > dec(r["reservation_effective_cost"]) > 0
        assert dec(r["reservation_effective_cost"]) == dec(r["reservation_amortized_upfront_cost_for_usage"]) + dec(
            r["reservation_recurring_fee_for_usage"]
        )
        assert r["reservation_reservation_a_r_n"] in ri_fees
    for arn, fee in ri_fees.items():
        assert re.fullmatch(r"arn:aws:ec2:us-east-1:\d{12}:reserved-instances/[0-9a-f-]{36}", arn)
        assert fee["line_item_usage_account_id"] == arn.split(":")[4]
        assert fee["line_item_usage_start_date"].day == 1
        assert dec(fee["line_item_unblended_cost"]) > 0
        # recurring fee for used hours + unused recurring fee = the reserved hours of the delivered days
        instances = fee["line_item_usage_amount"] / (30 * 24)
        used = sum(
            dec(r["reservation_recurring_fee_for_usage"])
            for r in discounted
            if r["reservation_reservation_a_r_n"] == arn
        )
        reserved = Decimal(repr(fee["line_item_unblended_rate"])) * Decimal(int(instances) * 24 * 5)
        assert abs(used + dec(fee["reservation_unused_recurring_fee"]) - reserved) < Decimal("0.00001") * len(
            discounted
        )
    assert any(r["line_item_usage_account_id"] != r["reservation_reservation_a_r_n"].split(":")[4] for r in discounted)


def test_fees_are_an_ri_upfront_purchase_and_support_on_the_payer(rows):
    fees = by_type(rows, "Fee")
    purchase = [r for r in fees if r["reservation_reservation_a_r_n"]]
    support = [r for r in fees if not r["reservation_reservation_a_r_n"]]
    assert len(purchase) == 1 and purchase[0]["bill_bill_type"] == "Purchase"
    assert purchase[0]["line_item_usage_account_id"] == purchase[0]["reservation_reservation_a_r_n"].split(":")[4]
    assert len(support) == 1
    assert support[0]["line_item_product_code"] == "AWSSupportBusiness"
    assert support[0]["line_item_usage_account_id"] == support[0]["bill_payer_account_id"]
    assert dec(support[0]["line_item_unblended_cost"]) >= 100


def test_discounts_credits_and_refunds_are_negative_and_tax_positive(rows):
    for t in ("EdpDiscount", "PrivateRateDiscount", "BundledDiscount", "Discount", "Credit", "Refund"):
        assert by_type(rows, t) and all(dec(r["line_item_unblended_cost"]) < 0 for r in by_type(rows, t)), t
    refunds = by_type(rows, "Refund")
    assert {r["bill_bill_type"] for r in refunds} == {"Refund"}
    assert sorted(r["line_item_product_code"] for r in refunds) == ["AmazonEC2", "ComputeSavingsPlans"]
    taxes = by_type(rows, "Tax")
    assert all(dec(r["line_item_unblended_cost"]) > 0 and r["line_item_usage_type"] == "Tax" for r in taxes)
    usage_products = {r["line_item_product_code"] for r in by_type(rows, "Usage")}
    assert {r["line_item_product_code"] for r in taxes} <= usage_products
    assert {r["line_item_product_code"] for r in by_type(rows, "PrivateRateDiscount")} == {"AmazonEC2"}


def test_usage_spans_several_products_and_public_cost_equals_unblended(rows):
    usage = by_type(rows, "Usage")
    assert {
        "AmazonEC2",
        "AmazonS3",
        "AmazonRDS",
        "AWSLambda",
        "AmazonCloudWatch",
        "AWSDataTransfer",
        "AmazonDynamoDB",
    } <= {r["line_item_product_code"] for r in usage}
    assert all(r["line_item_unblended_cost"] == r["pricing_public_on_demand_cost"] for r in usage)
    assert {r["pricing_term"] for r in usage} == {"OnDemand"}


def test_realistic_shape_has_the_payers_and_linked_accounts_asked_for(realistic):
    counts = parquet_counts(realistic.out_dir)
    assert counts["payers"] == 10
    assert counts["linked_accounts"] == 2000
    assert counts["linked_accounts_on_day_1"] == 2000  # every linked account has a usage line on day 1
    assert [d.payer_account_id for d in realistic.deliveries] == [str(i) * 12 for i in range(1, 10)] + ["910000000000"]
    assert [len(d.linked_account_ids) for d in realistic.deliveries] == spread_accounts(2000, 10)
    assert realistic.deliveries[9].linked_account_ids[:2] == ("910000000001", "910000000002")
    assert [d.source_format for d in realistic.deliveries] == ["legacy", "cur2"] * 5
    assert abs(counts["lines"] - 40_000) <= 40_000 * 0.03
    # lines in proportion to the linked accounts
    assert [d.row_count for d in realistic.deliveries] == [
        9976, 6184, 4620, 3821, 3259, 2888, 2590, 2372, 2180, 2035
    ]  # fmt: skip


def test_realistic_shape_has_far_more_usage_types_and_resources_than_the_small_shape(tmp_path, realistic):
    small = generate_cur(tmp_path, fmt="mixed", **SHAPES)
    small_counts = parquet_counts(small.out_dir)
    realistic_counts = parquet_counts(realistic.out_dir)
    assert (small_counts["payers"], small_counts["linked_accounts"]) == (2, 8)
    assert small_counts["lines"] == small.total_rows == 39_838
    assert realistic_counts["lines"] == realistic.total_rows == 39_925
    assert (small_counts["usage_types"], realistic_counts["usage_types"]) == (92, 1825)
    assert (small_counts["resources"], realistic_counts["resources"]) == (287, 6379)
    assert (small_counts["products"], realistic_counts["products"]) == (9, 32)


def test_realistic_shape_keeps_every_line_item_type_and_exact_totals(realistic):
    for delivery in realistic.deliveries:
        assert set(delivery.rows_by_line_item_type) == set(LINE_ITEM_TYPES)
        table = pa.concat_tables(pq.read_table(p) for p in delivery.data_paths)
        assert table.num_rows == delivery.row_count
        types = table.column("line_item_line_item_type").value_counts().to_pylist()
        assert {t["values"]: t["counts"] for t in types} == delivery.rows_by_line_item_type
        costs = [dec(x) for x in table.column("line_item_unblended_cost").to_pylist()]
        assert all(c.as_tuple().exponent >= -8 for c in costs)
        assert sum(costs) == delivery.unblended_cost
        assert len(set(table.column("identity_line_item_id").to_pylist())) == table.num_rows


def test_realistic_amortized_cost_follows_the_domain_rule(realistic, realistic_rows):
    for delivery in realistic.deliveries[8:]:
        assert sum(amortized(r) for r in realistic_rows[delivery.source_format]) == delivery.amortized_cost


def test_realistic_usage_names_resources_shared_by_usage_types_of_a_region(realistic_rows):
    usage = [r for rows in realistic_rows.values() for r in by_type(rows, "Usage") if r["line_item_resource_id"]]
    types_per_resource = defaultdict(set)
    for r in usage:
        types_per_resource[r["line_item_resource_id"]].add(r["line_item_usage_type"])
    assert max(len(v) for v in types_per_resource.values()) > 1  # e.g. an S3 bucket's storage and requests
    instances = {r["line_item_resource_id"] for r in usage if r["line_item_usage_type"].endswith("BoxUsage:m5.large")}
    assert instances and all(re.fullmatch(r"i-[0-9a-f]{17}", x) for x in instances)


def test_realistic_shape_is_deterministic(tmp_path):
    options = {"period": PERIOD, "shape": "realistic", "payers": 2, "linked_accounts": 6, "days": 2, "rows": 3000}
    first = generate_cur(tmp_path / "a", **options)
    generate_cur(tmp_path / "b", **options)
    assert files_under(tmp_path / "a") == files_under(tmp_path / "b")
    other = generate_cur(tmp_path / "c", **{**options, "seed": 8})
    assert [d.unblended_cost for d in other.deliveries] != [d.unblended_cost for d in first.deliveries]


def test_invoice_id_is_blank_in_legacy_and_null_in_cur2_unless_final(tmp_path, legacy_rows, cur2_rows):
    assert {r["bill_invoice_id"] for r in legacy_rows} == {""}
    assert {r["bill_invoice_id"] for r in cur2_rows} == {None}
    result = generate_cur(tmp_path, fmt="mixed", final=True, **SMALL)
    ids = []
    for delivery in result.deliveries:
        values = {r["bill_invoice_id"] for r in read_rows(delivery)}
        assert values == {delivery.invoice_id}
        assert re.fullmatch(r"\d{10}", delivery.invoice_id)
        ids.append(delivery.invoice_id)
    assert len(set(ids)) == 2


def test_absent_values_are_blank_and_zero_in_legacy_and_null_in_cur2(legacy_rows, cur2_rows):
    usage_legacy = by_type(legacy_rows, "Usage")[0]
    assert usage_legacy["savings_plan_savings_plan_a_r_n"] == ""
    assert usage_legacy["reservation_effective_cost"] == 0.0
    usage_cur2 = by_type(cur2_rows, "Usage")[0]
    assert usage_cur2["savings_plan_savings_plan_a_r_n"] is None
    assert usage_cur2["reservation_effective_cost"] is None


def test_row_count_is_close_to_the_target(tmp_path):
    result = generate_cur(tmp_path, period=PERIOD, payers=2, accounts=4, rows=40_000, seed=3, fmt="cur2")
    assert abs(result.total_rows - 40_000) <= 40_000 * 0.03
    assert all(abs(n - 20_000) <= 20_000 * 0.03 for n in result.rows_by_payer.values())


def test_the_realistic_shape_needs_a_row_per_linked_account_more(tmp_path):
    rows = minimum_rows(payers=3, days=2, shape="realistic", linked_accounts=30)
    assert rows == 3 * 23 + 30
    result = generate_cur(
        tmp_path, period=PERIOD, shape="realistic", payers=3, linked_accounts=30, days=2, rows=rows, seed=1
    )
    assert result.total_rows == rows
    for delivery in result.deliveries:
        assert set(delivery.rows_by_line_item_type) == set(LINE_ITEM_TYPES)
    with pytest.raises(GeneratorError, match="too small"):
        generate_cur(
            tmp_path, period=PERIOD, shape="realistic", payers=3, linked_accounts=30, days=2, rows=rows - 1, seed=1
        )


def test_the_smallest_allowed_row_count_still_has_every_type(tmp_path):
    rows = minimum_rows(payers=2, days=3)
    assert rows == 2 * 25
    result = generate_cur(tmp_path, period=PERIOD, payers=2, accounts=2, days=3, rows=rows, seed=1, fmt="mixed")
    for delivery in result.deliveries:
        assert set(delivery.rows_by_line_item_type) == set(LINE_ITEM_TYPES)
    with pytest.raises(GeneratorError, match="too small"):
        generate_cur(tmp_path, period=PERIOD, payers=2, accounts=2, days=3, rows=rows - 1, seed=1, fmt="mixed")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"period": "2026-9"}, "YYYY-MM"),
        ({"period": "2026-13"}, "YYYY-MM"),
        ({"payers": 0}, "--payers"),
        ({"payers": 100}, "--payers"),
        ({"accounts": 0}, "--accounts"),
        ({"accounts": 10_001}, "--accounts must be 1..10000"),
        ({"shape": "huge"}, "invalid shape 'huge': expected one of small, realistic"),
        ({"linked_accounts": 10}, "give either --accounts (linked accounts per payer) or --linked-accounts"),
        ({"accounts": None, "linked_accounts": 1}, "--linked-accounts must be 2..10000 (at least one per payer)"),
        ({"accounts": None, "linked_accounts": 10_001}, "--linked-accounts must be 2..10000"),
        (
            {"shape": "realistic", "accounts": None, "payers": None, "rows": 2289},
            "(2290 for 10 payer(s) and 2000 linked",
        ),
        ({"days": 31}, "--days"),
        ({"rows": 10}, "too small"),
        ({"fmt": "csv"}, "format"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(tmp_path, options, message):
    with pytest.raises(GeneratorError, match=re.escape(message)):
        generate_cur(tmp_path, **{**SMALL, "fmt": "mixed", **options})


# ---- command line ------------------------------------------------------------------------------


def test_cli_generate_cur_writes_the_deliveries_and_prints_a_summary(tmp_path, capsys):
    code = main(["generate-cur", "--out", str(tmp_path), "--period", PERIOD, "--payers", "1", "--accounts", "2",
                 "--days", "3", "--rows", "2000", "--seed", "5", "--format", "cur2", "--final"])  # fmt: skip
    assert code == 0
    out, err = capsys.readouterr()
    assert "payer 111111111111 [cur2]" in out
    assert "BILLING_PERIOD=2026-09/billflow-export-111111111111-Manifest.json" in out
    assert "wrote 111111111111/billflow-export-111111111111/data/" in err
    assert (tmp_path / "111111111111/billflow-export-111111111111/metadata/BILLING_PERIOD=2026-09").is_dir()


def test_cli_generate_cur_realistic_shape(tmp_path, capsys):
    code = main(["generate-cur", "--out", str(tmp_path), "--period", PERIOD, "--shape", "realistic",
                 "--linked-accounts", "30", "--days", "2", "--rows", "3000", "--quiet"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "(2 days, realistic shape)" in out
    assert "payer 910000000000 [cur2] billflow-export-910000000000" in out
    assert parquet_counts(tmp_path)["linked_accounts"] == 30


@pytest.mark.parametrize(
    "argv",
    [
        ["generate-cur", "--period", "09-2026"],
        ["generate-cur", "--period", PERIOD, "--payers", "0"],
        ["generate-cur", "--period", PERIOD, "--rows", "20"],
        ["generate-cur", "--period", PERIOD, "--format", "csv"],
        ["generate-cur", "--period", PERIOD, "--shape", "huge"],
        ["generate-cur", "--period", PERIOD, "--accounts", "2", "--linked-accounts", "4"],
        ["generate-cur", "--period", PERIOD, "--linked-accounts", "1"],
        [],
    ],
)
def test_cli_usage_errors_exit_with_code_2(tmp_path, capsys, argv):
    if argv:
        argv = [*argv, "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_python_dash_m_billflow_dev_runs_the_dev_cli_and_the_product_cli_has_no_dev_commands():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / folder) for folder in ("plugins", "tools"))}
    done = subprocess.run(
        [sys.executable, "-m", "billflow_dev", "generate-cur", "--help"], capture_output=True, text=True, env=env
    )
    product = subprocess.run([sys.executable, "-m", "billflow", "--help"], capture_output=True, text=True, env=env)

    assert done.returncode == 0
    assert "--redeliver" in done.stdout
    assert product.returncode == 0
    assert "invoices" in product.stdout and "generate-cur" not in product.stdout and "bench" not in product.stdout

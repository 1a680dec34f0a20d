"""Manifests of both CUR layouts parse into one Delivery; bad ones are refused with a clear reason."""

import json
from datetime import date

import pytest
from billflow.formats.manifest import Delivery, ManifestError, manifest_format, parse_manifest

LEGACY_KEY = "111111111111/acme-cur/20260901-20261001/acme-cur-Manifest.json"
CUR2_KEY = "222222222222/acme-export/metadata/BILLING_PERIOD=2026-09/acme-export-Manifest.json"


def legacy_body(**overrides):
    body = {
        "assemblyId": "a1b2c3",
        "account": "111111111111",
        "columns": [{"category": "lineItem", "name": "line_item_unblended_cost", "type": "OptionalBigDecimal"}],
        "compression": "Parquet",
        "contentType": "Parquet",
        "reportId": "r-1",
        "reportName": "acme-cur",
        "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
        "bucket": "landing-bucket",
        "reportKeys": [
            "111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00001.snappy.parquet",
            "111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00002.snappy.parquet",
        ],
    }
    body.update(overrides)
    return json.dumps(body)


def cur2_body(**overrides):
    body = {
        "executionId": "e-77",
        "exportArn": "arn:aws:bcm-data-exports:us-east-1:222222222222:export/acme-export-1234",
        "columns": [{"name": "line_item_unblended_cost", "type": "double"}],
        "dataFiles": [
            "s3://landing-bucket/222222222222/acme-export/data/BILLING_PERIOD=2026-09/acme-export-00001.snappy.parquet"
        ],
        "additionalOutputFiles": [],
    }
    body.update(overrides)
    return json.dumps(body)


def test_manifest_paths_are_recognised_by_layout():
    assert manifest_format(LEGACY_KEY) == "legacy"
    assert manifest_format(CUR2_KEY) == "cur2"
    assert manifest_format("111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00001.snappy.parquet") is None
    assert manifest_format("111111111111/acme-cur/20260901-20261001/other-Manifest.json") is None


def test_legacy_manifest_gives_payer_period_assembly_and_data_files():
    delivery = parse_manifest(LEGACY_KEY, legacy_body())
    assert delivery.payer_account_id == "111111111111"
    assert delivery.billing_period == date(2026, 9, 1)
    assert delivery.manifest_id == "a1b2c3"
    assert delivery.source_format == "legacy"
    assert delivery.data_uris == (
        "s3://landing-bucket/111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00001.snappy.parquet",
        "s3://landing-bucket/111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00002.snappy.parquet",
    )
    assert delivery.columns == ("line_item_unblended_cost",)


def test_cur2_manifest_takes_the_payer_from_the_export_arn_and_the_period_from_the_path():
    delivery = parse_manifest(CUR2_KEY, cur2_body())
    assert delivery.payer_account_id == "222222222222"
    assert delivery.billing_period == date(2026, 9, 1)
    assert delivery.manifest_id == "e-77"
    assert delivery.source_format == "cur2"
    assert delivery.report_name == "acme-export"
    assert len(delivery.data_uris) == 1


def test_delivery_round_trips_through_a_dict_for_xcom():
    delivery = parse_manifest(CUR2_KEY, cur2_body())
    assert Delivery.from_dict(json.loads(json.dumps(delivery.to_dict()))) == delivery


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        (LEGACY_KEY, "{not json", "not valid JSON"),
        (LEGACY_KEY, legacy_body(assemblyId=""), "no 'assemblyId'"),
        (LEGACY_KEY, legacy_body(reportKeys=[]), "no 'reportKeys'"),
        (LEGACY_KEY, legacy_body(account="12345"), "is not an AWS account id"),
        (LEGACY_KEY, legacy_body(billingPeriod={"start": "2026-09-01", "end": "x"}), "is not like"),
        (
            LEGACY_KEY,
            legacy_body(billingPeriod={"start": "20260801T000000.000Z", "end": "20260901T000000.000Z"}),
            "does not match the folder",
        ),
        (CUR2_KEY, cur2_body(exportArn="export-1"), "is not an ARN"),
        (CUR2_KEY, cur2_body(dataFiles=["/tmp/x.parquet"]), "is not an s3:// URI"),
        (CUR2_KEY, cur2_body(executionId=None), "no 'executionId'"),
    ],
)
def test_untrustworthy_manifests_are_refused_with_the_reason(key, body, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(key, body)

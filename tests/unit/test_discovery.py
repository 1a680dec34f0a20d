"""Discovery finds complete deliveries only (the manifest and every file it lists must be there), and says
why each other manifest is not loaded: waiting for files, or rejected with its key and the reason."""

import json
import os
from datetime import UTC, date, datetime

import pytest

from billflow.formats.discovery import Rejection, Waiting, discover_deliveries
from billflow.storage.local import LocalStore
from tests.unit.test_manifest import CUR2_KEY, ID_RULE, LEGACY_KEY, cur2_body, legacy_body

SEPTEMBER = date(2026, 9, 1)
LEGACY_DATA = json.loads(legacy_body())["reportKeys"]
CUR2_DATA = "222222222222/acme-export/data/BILLING_PERIOD=2026-09/acme-export-00001.snappy.parquet"
THIRD_KEY = "333333333333/third-cur/20260901-20261001/third-cur-Manifest.json"
THIRD_DATA = "333333333333/third-cur/third-cur/year=2026/month=9/third-cur-00001.snappy.parquet"
SECOND_KEY = "111111111111/second-cur/20260901-20261001/second-cur-Manifest.json"
SECOND_DATA = "111111111111/second-cur/second-cur/year=2026/month=9/second-cur-00001.snappy.parquet"
EXPORT_KEY = "111111111111/acme-export/metadata/BILLING_PERIOD=2026-09/acme-export-Manifest.json"
EXPORT_DATA = "111111111111/acme-export/data/BILLING_PERIOD=2026-09/acme-export-00001.snappy.parquet"
DUPLICATE_HINT = "none of these manifests is loaded: set BILLFLOW_REPORT_NAMES to the report(s) to load"


def land(root, key, data=b"x"):
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def land_legacy(root):
    land(root, LEGACY_KEY, legacy_body())
    for key in LEGACY_DATA:
        land(root, key)


def land_cur2(root):
    land(root, CUR2_KEY, cur2_body())
    land(root, CUR2_DATA)


def third_body(**overrides):
    body = json.loads(legacy_body(account="333333333333", reportName="third-cur", reportKeys=[THIRD_DATA]))
    return json.dumps(body | overrides)


def second_report(root):
    land(root, SECOND_KEY, legacy_body(assemblyId="second-1", reportName="second-cur", reportKeys=[SECOND_DATA]))
    land(root, SECOND_DATA)


def cur2_export_of_the_legacy_payer(root):
    body = cur2_body(
        executionId="export-1",
        exportArn="arn:aws:bcm-data-exports:us-east-1:111111111111:export/acme-export-1",
        dataFiles=[f"s3://landing-bucket/{EXPORT_DATA}"],
    )
    land(root, EXPORT_KEY, body)
    land(root, EXPORT_DATA)


def loaded(found):
    return [(d.payer_account_id, d.period_label, d.source_format, d.manifest_key) for d in found.deliveries]


def test_complete_deliveries_of_both_layouts_are_found_in_payer_order(tmp_path):
    land_legacy(tmp_path)
    land_cur2(tmp_path)

    found = discover_deliveries(LocalStore(tmp_path))

    assert loaded(found) == [
        ("111111111111", "2026-09", "legacy", LEGACY_KEY),
        ("222222222222", "2026-09", "cur2", CUR2_KEY),
    ]
    assert (found.waiting, found.rejected) == ([], [])


def test_a_manifest_whose_files_have_not_all_landed_waits_with_its_missing_keys_and_time(tmp_path):
    land(tmp_path, LEGACY_KEY, legacy_body())
    land(tmp_path, LEGACY_DATA[0])  # the second file is still missing
    os.utime(tmp_path / LEGACY_KEY, (1_790_000_000, 1_790_000_000))

    found = discover_deliveries(LocalStore(tmp_path))

    assert (found.deliveries, found.rejected) == ([], [])
    assert found.waiting == [
        Waiting(
            manifest_key=LEGACY_KEY,
            missing_keys=(LEGACY_DATA[1],),
            listed=2,
            manifest_modified_at=datetime.fromtimestamp(1_790_000_000, tz=UTC),
            payer_account_id="111111111111",
            billing_period=SEPTEMBER,
            manifest_id="a1b2c3",
        )
    ]


def test_data_files_without_a_manifest_are_not_a_delivery(tmp_path):
    for key in LEGACY_DATA:
        land(tmp_path, key)

    found = discover_deliveries(LocalStore(tmp_path))

    assert (found.deliveries, found.waiting, found.rejected) == ([], [], [])


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (
            third_body(billingPeriod="20260901T000000.000Z"),
            "billingPeriod must be an object with 'start' and 'end', not string: '20260901T000000.000Z'",
        ),
        (third_body(billingPeriod=None), "manifest has no 'billingPeriod'"),
        (third_body(reportKeys=[THIRD_DATA, 42]), "reportKeys entry 1 must be a string, not number: 42"),
        (third_body(assemblyId="x/../.."), f"assemblyId 'x/../..' {ID_RULE}"),
        (third_body(assemblyId="../222222222222"), f"assemblyId '../222222222222' {ID_RULE}"),
        (
            third_body(reportKeys=["111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00001.snappy.parquet"]),
            "reportKeys entry '111111111111/acme-cur/acme-cur/year=2026/month=9/acme-cur-00001.snappy.parquet' lies "
            "outside the delivery's folder 333333333333/third-cur/",
        ),
        (b"{broken", "manifest is not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
        (b"\x80\x81", "manifest is not UTF-8 text (byte 0 is 0x80)"),
        (b"[]", "manifest must be a JSON object, not array"),
    ],
)
def test_one_malformed_manifest_beside_two_good_ones_is_one_rejection_and_the_good_ones_load(
    tmp_path, manifest, problem
):
    land_legacy(tmp_path)
    land_cur2(tmp_path)
    land(tmp_path, THIRD_KEY, manifest)
    land(tmp_path, THIRD_DATA)

    found = discover_deliveries(LocalStore(tmp_path))

    assert loaded(found) == [
        ("111111111111", "2026-09", "legacy", LEGACY_KEY),
        ("222222222222", "2026-09", "cur2", CUR2_KEY),
    ]
    assert found.rejected == [Rejection(THIRD_KEY, f"{THIRD_KEY}: {problem}", billing_period=SEPTEMBER)]
    assert found.waiting == []


def test_an_unexpected_error_reading_one_manifest_rejects_it_with_the_exception_type(tmp_path):
    class DenyingStore(LocalStore):
        def read_bytes(self, key):
            if key == THIRD_KEY:
                raise PermissionError("access denied")
            return super().read_bytes(key)

    land_legacy(tmp_path)
    land(tmp_path, THIRD_KEY, third_body())
    land(tmp_path, THIRD_DATA)

    found = discover_deliveries(DenyingStore(tmp_path))

    assert loaded(found) == [("111111111111", "2026-09", "legacy", LEGACY_KEY)]
    assert found.rejected == [
        Rejection(
            THIRD_KEY,
            f"{THIRD_KEY}: cannot read the manifest (PermissionError: access denied)",
            billing_period=SEPTEMBER,
        )
    ]


def test_a_manifest_whose_key_breaks_the_rules_is_rejected_without_a_period(tmp_path):
    key = "333333333333/third;cur/20260901-20261001/third;cur-Manifest.json"
    land_legacy(tmp_path)
    land(tmp_path, key, third_body())

    found = discover_deliveries(LocalStore(tmp_path))

    assert loaded(found) == [("111111111111", "2026-09", "legacy", LEGACY_KEY)]
    assert found.rejected == [
        Rejection(
            key,
            f"{key}: report folder 'third;cur' is not accepted: a report name is 1 to 128 letters, digits, '.', '-' "
            "or '_', starting with a letter or digit, without '..'; rename the report",
        )
    ]


def test_two_reports_for_one_payer_and_period_are_both_rejected_naming_each_other(tmp_path):
    land_legacy(tmp_path)
    second_report(tmp_path)

    found = discover_deliveries(LocalStore(tmp_path))

    assert (found.deliveries, found.waiting) == ([], [])
    assert found.rejected == [
        Rejection(
            LEGACY_KEY,
            f"{LEGACY_KEY}: payer 111111111111 period 2026-09 is also delivered by {SECOND_KEY}; {DUPLICATE_HINT}",
            "111111111111",
            SEPTEMBER,
            "a1b2c3",
        ),
        Rejection(
            SECOND_KEY,
            f"{SECOND_KEY}: payer 111111111111 period 2026-09 is also delivered by {LEGACY_KEY}; {DUPLICATE_HINT}",
            "111111111111",
            SEPTEMBER,
            "second-1",
        ),
    ]


def test_a_legacy_report_and_a_cur2_export_of_one_payer_and_period_are_both_rejected(tmp_path):
    land_legacy(tmp_path)
    cur2_export_of_the_legacy_payer(tmp_path)

    found = discover_deliveries(LocalStore(tmp_path))

    assert found.deliveries == []
    assert [(r.manifest_key, r.reason) for r in found.rejected] == [
        (
            LEGACY_KEY,
            f"{LEGACY_KEY}: payer 111111111111 period 2026-09 is also delivered by {EXPORT_KEY}; {DUPLICATE_HINT}",
        ),
        (
            EXPORT_KEY,
            f"{EXPORT_KEY}: payer 111111111111 period 2026-09 is also delivered by {LEGACY_KEY}; {DUPLICATE_HINT}",
        ),
    ]


def test_a_duplicate_still_waiting_for_files_rejects_the_complete_one_too(tmp_path):
    land_legacy(tmp_path)
    land(tmp_path, SECOND_KEY, legacy_body(assemblyId="second-1", reportName="second-cur", reportKeys=[SECOND_DATA]))

    found = discover_deliveries(LocalStore(tmp_path))

    assert (found.deliveries, found.waiting) == ([], [])
    assert [r.manifest_key for r in found.rejected] == [LEGACY_KEY, SECOND_KEY]


@pytest.mark.parametrize(
    ("report_names", "expected"),
    [
        ({"acme-cur"}, [("111111111111", "2026-09", "legacy", LEGACY_KEY)]),
        ({"acme-export"}, [("111111111111", "2026-09", "cur2", EXPORT_KEY)]),
    ],
)
def test_report_names_choose_the_report_to_load_and_ignore_the_others(tmp_path, report_names, expected):
    land_legacy(tmp_path)
    second_report(tmp_path)
    cur2_export_of_the_legacy_payer(tmp_path)
    land(tmp_path, THIRD_KEY, b"{broken")  # a report not chosen is not read at all

    found = discover_deliveries(LocalStore(tmp_path), report_names=frozenset(report_names))

    assert loaded(found) == expected
    assert (found.waiting, found.rejected) == ([], [])

"""Discovery finds complete deliveries only: the manifest and every file it lists must be there."""

import json

from billflow.formats.discovery import discover_deliveries
from billflow.storage.local import LocalStore

from tests.unit.test_manifest import CUR2_KEY, LEGACY_KEY, cur2_body, legacy_body


def land(root, key, data=b"x"):
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def land_legacy(root):
    land(root, LEGACY_KEY, legacy_body())
    for key in json.loads(legacy_body())["reportKeys"]:
        land(root, key)


def test_complete_deliveries_of_both_layouts_are_found_in_payer_order(tmp_path):
    land_legacy(tmp_path)
    land(tmp_path, CUR2_KEY, cur2_body())
    land(tmp_path, "222222222222/acme-export/data/BILLING_PERIOD=2026-09/acme-export-00001.snappy.parquet")

    found = discover_deliveries(LocalStore(tmp_path))

    assert [(d.payer_account_id, d.period_label, d.source_format) for d in found.deliveries] == [
        ("111111111111", "2026-09", "legacy"),
        ("222222222222", "2026-09", "cur2"),
    ]
    assert found.incomplete == [] and found.rejected == []


def test_a_manifest_whose_files_have_not_all_landed_waits(tmp_path):
    land(tmp_path, LEGACY_KEY, legacy_body())
    land(tmp_path, json.loads(legacy_body())["reportKeys"][0])  # the second file is still missing

    found = discover_deliveries(LocalStore(tmp_path))

    assert found.deliveries == []
    assert found.incomplete == [LEGACY_KEY]


def test_data_files_without_a_manifest_are_not_a_delivery(tmp_path):
    for key in json.loads(legacy_body())["reportKeys"]:
        land(tmp_path, key)
    assert discover_deliveries(LocalStore(tmp_path)).deliveries == []


def test_a_broken_manifest_is_rejected_without_hiding_the_others(tmp_path):
    land_legacy(tmp_path)
    land(tmp_path, CUR2_KEY, "{broken")

    found = discover_deliveries(LocalStore(tmp_path))

    assert [d.payer_account_id for d in found.deliveries] == ["111111111111"]
    assert len(found.rejected) == 1 and "not valid JSON" in found.rejected[0]


def test_two_reports_for_one_payer_and_period_are_not_both_loaded(tmp_path):
    land_legacy(tmp_path)
    other_key = "111111111111/second-cur/20260901-20261001/second-cur-Manifest.json"
    other_data = "111111111111/second-cur/second-cur/year=2026/month=9/second-cur-00001.snappy.parquet"
    land(tmp_path, other_key, legacy_body(reportName="second-cur", reportKeys=[other_data]))
    land(tmp_path, other_data)

    found = discover_deliveries(LocalStore(tmp_path))

    assert len(found.deliveries) == 1
    assert "also delivered by" in found.rejected[0]

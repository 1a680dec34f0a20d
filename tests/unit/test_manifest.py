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


# --- every value taken from a manifest or its key is checked before it reaches a path or SQL -------------

ID_RULE = "is not a valid manifest id: 1 to 128 letters, digits, '-' or '_', starting with a letter or digit"
REPORT_RULE = (
    "is not accepted: a report name is 1 to 128 letters, digits, '.', '-' or '_', starting with a letter or digit, "
    "without '..'; rename the report"
)
LEGACY_FOLDER = "111111111111/acme-cur/"
CUR2_FOLDER = "222222222222/acme-export/data/BILLING_PERIOD=2026-09/"


def refusal(key, body):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(key, body)
    return str(caught.value)


TRAVERSING_IDS = ["x/../..", "../222222222222", "/abs", "..", "a'b", "a;drop table x", "a b", "a\nb"]


@pytest.mark.parametrize("value", TRAVERSING_IDS)
def test_an_assembly_id_that_could_name_another_staged_folder_is_refused(value):
    assert refusal(LEGACY_KEY, legacy_body(assemblyId=value)) == f"{LEGACY_KEY}: assemblyId {value!r} {ID_RULE}"


@pytest.mark.parametrize("value", TRAVERSING_IDS)
def test_an_execution_id_that_could_name_another_staged_folder_is_refused(value):
    assert refusal(CUR2_KEY, cur2_body(executionId=value)) == f"{CUR2_KEY}: executionId {value!r} {ID_RULE}"


@pytest.mark.parametrize("name", ["acme'cur", "acme;cur"])
def test_a_report_name_with_a_quote_or_a_semicolon_is_refused(name):
    key = f"111111111111/{name}/20260901-20261001/{name}-Manifest.json"
    assert refusal(key, legacy_body(reportName=name)) == f"{key}: report folder {name!r} {REPORT_RULE}"
    assert refusal(LEGACY_KEY, legacy_body(reportName=name)) == f"{LEGACY_KEY}: reportName {name!r} {REPORT_RULE}"


def test_an_export_name_with_a_quote_is_refused():
    key = "222222222222/acme'export/metadata/BILLING_PERIOD=2026-09/acme'export-Manifest.json"
    assert refusal(key, cur2_body()) == f'{key}: export folder "acme\'export" {REPORT_RULE}'


def test_a_report_name_other_than_its_folder_is_refused():
    assert refusal(LEGACY_KEY, legacy_body(reportName="other-cur")) == (
        f"{LEGACY_KEY}: reportName 'other-cur' does not match the report folder 'acme-cur'"
    )


@pytest.mark.parametrize(
    ("data_key", "problem"),
    [
        (
            "222222222222/acme-cur/acme-cur/year=2026/month=9/x.parquet",
            f"lies outside the delivery's folder {LEGACY_FOLDER}",
        ),
        (
            "111111111111/other-cur/other-cur/year=2026/month=9/x.parquet",
            f"lies outside the delivery's folder {LEGACY_FOLDER}",
        ),
        ("111111111111/acme-cur", f"lies outside the delivery's folder {LEGACY_FOLDER}"),
        ("111111111111/acme-cur/../../222222222222/x.parquet", "is not a valid object key: it has a '..' segment"),
        ("../111111111111/acme-cur/x.parquet", "is not a valid object key: it has a '..' segment"),
        ("/111111111111/acme-cur/x.parquet", "is not a valid object key: it is absolute (starts with '/')"),
        (
            "111111111111/acme-cur//x.parquet",
            "is not a valid object key: it has an empty segment ('//' or a trailing '/')",
        ),
        ("111111111111/acme-cur/a\\x.parquet", "is not a valid object key: it has a backslash"),
        ("111111111111/acme-cur/*.parquet", "has a glob character (*?[]{})"),
    ],
)
def test_a_legacy_data_key_outside_the_reports_folder_rejects_the_manifest(data_key, problem):
    body = legacy_body(reportKeys=[f"{LEGACY_FOLDER}acme-cur/year=2026/month=9/a.parquet", data_key])
    assert refusal(LEGACY_KEY, body) == f"{LEGACY_KEY}: reportKeys entry {data_key!r} {problem}"


@pytest.mark.parametrize(
    ("data_key", "problem"),
    [
        (
            "222222222222/other-export/data/BILLING_PERIOD=2026-09/x.parquet",
            f"lies outside the delivery's folder {CUR2_FOLDER}",
        ),
        (
            "222222222222/acme-export/data/BILLING_PERIOD=2026-08/x.parquet",
            f"lies outside the delivery's folder {CUR2_FOLDER}",
        ),
        (
            "222222222222/acme-export/metadata/BILLING_PERIOD=2026-09/x.parquet",
            f"lies outside the delivery's folder {CUR2_FOLDER}",
        ),
        (f"{CUR2_FOLDER}../../BILLING_PERIOD=2026-08/x.parquet", "is not a valid object key: it has a '..' segment"),
    ],
)
def test_a_cur2_data_file_outside_the_exports_period_folder_rejects_the_manifest(data_key, problem):
    body = cur2_body(dataFiles=[f"s3://landing-bucket/{data_key}"])
    if "valid object key" in problem:
        expected = f"{CUR2_KEY}: key of dataFiles entry {data_key!r} {problem}"
    else:
        expected = f"{CUR2_KEY}: dataFiles entry {data_key!r} {problem}"
    assert refusal(CUR2_KEY, body) == expected


def test_a_cur2_data_file_with_an_absolute_key_or_a_bad_bucket_rejects_the_manifest():
    absolute = cur2_body(dataFiles=[f"s3://landing-bucket//{CUR2_FOLDER}x.parquet"])
    assert refusal(CUR2_KEY, absolute) == (
        f"{CUR2_KEY}: key of dataFiles entry '/{CUR2_FOLDER}x.parquet' is not a valid object key: "
        "it is absolute (starts with '/')"
    )
    bad_bucket = cur2_body(dataFiles=[f"s3://Landing_Bucket/{CUR2_FOLDER}x.parquet"])
    assert refusal(CUR2_KEY, bad_bucket) == (
        f"{CUR2_KEY}: bucket of dataFiles entry 'Landing_Bucket' is not a valid S3 bucket name: it must be 3 to 63 "
        "lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
    )


def test_a_data_file_listed_twice_rejects_the_manifest():
    data_key = f"{LEGACY_FOLDER}acme-cur/year=2026/month=9/a.parquet"
    assert refusal(LEGACY_KEY, legacy_body(reportKeys=[data_key, data_key])) == (
        f"{LEGACY_KEY}: reportKeys lists {data_key!r} more than once"
    )


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        (
            "20260901T000000.000Z",
            "billingPeriod must be an object with 'start' and 'end', not string: '20260901T000000.000Z'",
        ),
        (None, "manifest has no 'billingPeriod'"),
        (
            {"start": "2026-09-01", "end": "2026-10-01"},
            "billingPeriod start '2026-09-01' is not like 20250101T000000.000Z",
        ),
        ({"start": None, "end": "20261001T000000.000Z"}, "billingPeriod start must be a string, not null"),
        (
            {"start": "20260801T000000.000Z", "end": "20261001T000000.000Z"},
            "billingPeriod start 2026-08-01 does not match the folder 20260901-20261001",
        ),
        (
            {"start": "20260901T000000.000Z", "end": "20260902T000000.000Z"},
            "billingPeriod end 2026-09-02 does not match the folder 20260901-20261001",
        ),
    ],
)
def test_a_billing_period_that_is_not_the_folders_month_rejects_the_manifest(period, problem):
    assert refusal(LEGACY_KEY, legacy_body(billingPeriod=period)) == f"{LEGACY_KEY}: {problem}"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (
            "111111111111/acme-cur/20260915-20261015/acme-cur-Manifest.json",
            "billing period folder '20260915-20261015' is not one calendar month like 20260901-20261001 "
            "(first day to first day)",
        ),
        (
            "222222222222/acme-export/metadata/BILLING_PERIOD=2026-13/acme-export-Manifest.json",
            "BILLING_PERIOD '2026-13' is not a month like 2026-09",
        ),
        (
            "x/../111111111111/acme-cur/20260901-20261001/acme-cur-Manifest.json",
            "manifest key 'x/../111111111111/acme-cur/20260901-20261001/acme-cur-Manifest.json' is not a valid "
            "object key: it has a '..' segment",
        ),
        ("111111111111/acme-cur/acme-cur-00001.snappy.parquet", "not a CUR manifest path"),
    ],
)
def test_a_manifest_key_with_a_bad_folder_is_refused(key, problem):
    assert refusal(key, legacy_body()) == f"{key}: {problem}"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("reportKeys", [f"{LEGACY_FOLDER}a.parquet", 7], "reportKeys entry 1 must be a string, not number: 7"),
        ("reportKeys", [None], "reportKeys entry 0 must be a string, not null"),
        (
            "reportKeys",
            f"{LEGACY_FOLDER}a.parquet",
            f"'reportKeys' must be an array of strings, not string: '{LEGACY_FOLDER}a.parquet'",
        ),
        ("account", 111111111111, "account must be a string, not number: 111111111111"),
        ("account", "12345", "account '12345' is not an AWS account id (12 digits)"),
        ("assemblyId", {"id": "a"}, "assemblyId must be a string, not object: {'id': 'a'}"),
        ("bucket", ["landing-bucket"], "bucket must be a string, not array: ['landing-bucket']"),
        ("reportName", 5, "reportName must be a string, not number: 5"),
        (
            "columns",
            "line_item_unblended_cost",
            "'columns' must be an array of objects, not string: 'line_item_unblended_cost'",
        ),
        ("columns", [{"name": 3}], "columns entry 0 is not an object with a string 'name': {'name': 3}"),
        (
            "columns",
            ["line_item_unblended_cost"],
            "columns entry 0 is not an object with a string 'name': 'line_item_unblended_cost'",
        ),
    ],
)
def test_a_legacy_field_of_the_wrong_json_type_rejects_the_manifest(field, value, problem):
    assert refusal(LEGACY_KEY, legacy_body(**{field: value})) == f"{LEGACY_KEY}: {problem}"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("exportArn", {"arn": "x"}, "exportArn must be a string, not object: {'arn': 'x'}"),
        (
            "exportArn",
            "arn:aws:bcm-data-exports:us-east-1:2222:export/x",
            "account of exportArn '2222' is not an AWS account id (12 digits)",
        ),
        ("executionId", 77, "executionId must be a string, not number: 77"),
        ("dataFiles", [True], "dataFiles entry 0 must be a string, not boolean: True"),
        ("dataFiles", {"a": 1}, "'dataFiles' must be an array of strings, not object: {'a': 1}"),
    ],
)
def test_a_cur2_field_of_the_wrong_json_type_rejects_the_manifest(field, value, problem):
    assert refusal(CUR2_KEY, cur2_body(**{field: value})) == f"{CUR2_KEY}: {problem}"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xff\xfe{}", "manifest is not UTF-8 text (byte 0 is 0xff)"),
        (b'{"assemblyId": "caf\xe9"}', "manifest is not UTF-8 text (byte 19 is 0xe9)"),
        (b"{broken", "manifest is not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
        (b"", "manifest is not valid JSON (Expecting value at line 1)"),
        (b"[1, 2]", "manifest must be a JSON object, not array"),
        (b"null", "manifest must be a JSON object, not null"),
        (b'"text"', "manifest must be a JSON object, not string"),
        (
            b"[" * 100_000,
            "manifest is not valid JSON (RecursionError: maximum recursion depth exceeded while decoding a JSON "
            "array from a unicode string)",
        ),
    ],
)
def test_bytes_that_are_not_a_json_object_reject_the_manifest(raw, problem):
    assert refusal(LEGACY_KEY, raw) == f"{LEGACY_KEY}: {problem}"


MISSING = object()
GARBAGE = [MISSING, None, 0, 1.5, True, "", "x", "../x", [], {}, [None], [5], ["x"], {"a": 1}, [[]], [{}]]
READ_FIELDS = {
    "legacy": ["account", "assemblyId", "reportName", "billingPeriod", "bucket", "reportKeys", "columns"],
    "cur2": ["exportArn", "executionId", "dataFiles", "columns"],
}


def mutated(source_format, field, value):
    body = json.loads(legacy_body() if source_format == "legacy" else cur2_body())
    if value is MISSING:
        del body[field]
    else:
        body[field] = value
    return json.dumps(body)


def test_any_value_of_any_read_field_gives_a_delivery_or_a_manifest_error_never_another_exception():
    accepted = set()
    for source_format, fields in READ_FIELDS.items():
        key = LEGACY_KEY if source_format == "legacy" else CUR2_KEY
        for field_name in fields:
            for value in GARBAGE:
                try:
                    parse_manifest(key, mutated(source_format, field_name, value))
                except ManifestError:
                    continue
                accepted.add((source_format, field_name, "missing" if value is MISSING else json.dumps(value)))

    assert accepted == {
        ("legacy", "assemblyId", '"x"'),
        ("cur2", "executionId", '"x"'),
        ("legacy", "reportName", "missing"),
        ("legacy", "reportName", "null"),
        ("legacy", "columns", "missing"),
        ("legacy", "columns", "null"),
        ("legacy", "columns", "[]"),
        ("cur2", "columns", "missing"),
        ("cur2", "columns", "null"),
        ("cur2", "columns", "[]"),
    }


def test_a_13_digit_koku_account_is_accepted():
    assert parse_manifest(LEGACY_KEY, legacy_body(account="1234567890123")).payer_account_id == "1234567890123"


# --- Delivery.from_dict (XCom between tasks) checks again -------------------------------------------------


def test_a_delivery_dict_with_a_traversing_manifest_id_is_refused():
    data = parse_manifest(LEGACY_KEY, legacy_body()).to_dict() | {"manifest_id": "x/../.."}
    with pytest.raises(ManifestError) as caught:
        Delivery.from_dict(data)
    assert str(caught.value) == f"{LEGACY_KEY}: manifest_id 'x/../..' {ID_RULE}"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"payer_account_id": "../x"}, "payer_account_id '../x' is not an AWS account id (12 digits)"),
        ({"payer_account_id": None}, "payer_account_id must be a string, not null"),
        ({"billing_period": "2026-08-01"}, "billing_period '2026-08-01' is not the manifest key's period (2026-09-01)"),
        ({"source_format": "legacy"}, "source_format 'legacy' is not the layout of the manifest key (cur2)"),
        ({"report_name": "other"}, "report_name 'other' is not the manifest key's report"),
        (
            {"data_uris": ["s3://landing-bucket/222222222222/other-export/data/BILLING_PERIOD=2026-09/x.parquet"]},
            f"data_uris entry '222222222222/other-export/data/BILLING_PERIOD=2026-09/x.parquet' lies outside the "
            f"delivery's folder {CUR2_FOLDER}",
        ),
        ({"data_uris": []}, "manifest has no 'data_uris'"),
        ({"columns": [1]}, "columns must be an array of strings: [1]"),
    ],
)
def test_a_delivery_dict_that_breaks_a_manifest_rule_is_refused(change, problem):
    data = parse_manifest(CUR2_KEY, cur2_body()).to_dict() | change
    with pytest.raises(ManifestError) as caught:
        Delivery.from_dict(data)
    assert str(caught.value) == f"{CUR2_KEY}: {problem}"


def test_a_delivery_dict_with_a_manifest_key_outside_the_rules_is_refused():
    data = parse_manifest(CUR2_KEY, cur2_body()).to_dict() | {"manifest_key": f"/{CUR2_KEY}"}
    with pytest.raises(ManifestError) as caught:
        Delivery.from_dict(data)
    assert str(caught.value) == (
        f"/{CUR2_KEY}: manifest key '/{CUR2_KEY}' is not a valid object key: it is absolute (starts with '/')"
    )
    with pytest.raises(ManifestError) as caught:
        Delivery.from_dict(["not", "a", "dict"])
    assert str(caught.value) == "a delivery must be an object, not array: ['not', 'a', 'dict']"


def test_the_data_files_of_a_manifest_are_found_beside_it_in_the_landing_zone():
    """Where the landing zone is the bucket AWS wrote to, the keys are the manifest's own."""
    keys = [
        f"{LEGACY_FOLDER}acme-cur/year=2026/month=9/a.parquet",
        f"{LEGACY_FOLDER}acme-cur/year=2026/month=9/b.parquet",
    ]
    assert parse_manifest(LEGACY_KEY, legacy_body(reportKeys=keys)).data_keys == tuple(keys)


def test_a_replica_under_another_prefix_reads_each_file_from_the_same_folders_beside_its_manifest():
    """The payer wrote under its own prefix ('cur/'), the partner's landing zone holds the replica under
    'replica/111111111111/': the files are rebased onto the folder of the manifest in the landing zone."""
    replica_key = f"replica/{LEGACY_KEY}"
    legacy = parse_manifest(
        replica_key, legacy_body(reportKeys=["cur/acme-cur/acme-cur/year=2026/month=9/a.parquet"], bucket="payer-b")
    )
    assert legacy.data_uris == ("s3://payer-b/cur/acme-cur/acme-cur/year=2026/month=9/a.parquet",)
    assert legacy.data_keys == (f"replica/{LEGACY_FOLDER}acme-cur/year=2026/month=9/a.parquet",)

    export = parse_manifest(
        f"replica/{CUR2_KEY}",
        cur2_body(dataFiles=["s3://payer-b/exports/acme-export/data/BILLING_PERIOD=2026-09/part-0.parquet"]),
    )
    assert export.data_keys == (f"replica/{CUR2_FOLDER}part-0.parquet",)


def test_data_files_under_two_different_prefixes_reject_the_manifest():
    keys = ["cur/acme-cur/acme-cur/year=2026/month=9/a.parquet", "other/acme-cur/acme-cur/year=2026/month=9/b.parquet"]
    assert refusal(LEGACY_KEY, legacy_body(reportKeys=keys)) == (
        f"{LEGACY_KEY}: reportKeys entry {keys[1]!r} lies outside the delivery's folder {LEGACY_FOLDER}"
    )

"""Values from manifests and object keys pass strict rules before they reach a path or SQL."""

from datetime import date

import pytest

from billflow.formats import identifiers as ids
from billflow.formats.identifiers import IdentifierError

MANIFEST_ID_RULE = "is not a valid manifest id: 1 to 128 letters, digits, '-' or '_', starting with a letter or digit"
REPORT_RULE = (
    "is not accepted: a report name is 1 to 128 letters, digits, '.', '-' or '_', starting with a letter or digit, "
    "without '..'; rename the report"
)
BUCKET_CHARACTERS = (
    "it must be 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
)


ARABIC_INDIC_ONES = "\u0661" * 12  # digits for Python's int() and an unflagged \d, not for AWS


def refused(check, value, *args):
    """The message of the IdentifierError the check raises."""
    with pytest.raises(IdentifierError) as caught:
        check(value, *args)
    return str(caught.value)


@pytest.mark.parametrize("value", ["111111111111", "1234567890123"])  # 13 digits: koku's published test CURs
def test_account_ids_of_12_digits_and_koku_13_are_accepted(value):
    assert ids.account_id(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12345", "account id '12345' is not an AWS account id (12 digits)"),
        ("11111111111a", "account id '11111111111a' is not an AWS account id (12 digits)"),
        ("111111111111\n", "account id '111111111111\\n' is not an AWS account id (12 digits)"),
        (ARABIC_INDIC_ONES, f"account id {ARABIC_INDIC_ONES!r} is not an AWS account id (12 digits)"),
        (111111111111, "account id must be a string, not number: 111111111111"),
        (None, "account id must be a string, not null"),
    ],
)
def test_account_ids_that_are_not_12_ascii_digits_are_refused(value, message):
    assert refused(ids.account_id, value) == message


@pytest.mark.parametrize("value", ["a1b2c3", "e-77", "run_1", "3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f", "a" * 128])
def test_manifest_ids_such_as_uuids_are_accepted(value):
    assert ids.manifest_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["x/../..", "../222222222222", "/abs", ".", "..", "a.b", "a'b", 'a"b', "a;b", "a b", "", "-a", "a\n", "a" * 129],
)
def test_manifest_ids_with_path_or_sql_characters_are_refused(value):
    assert refused(ids.manifest_id, value, "assemblyId") == f"assemblyId {ids.shown(value)} {MANIFEST_ID_RULE}"


@pytest.mark.parametrize("value", ["acme-cur", "acme.cur_2", "Billing-2024", "a" * 128])
def test_report_names_of_letters_digits_dots_dashes_and_underscores_are_accepted(value):
    assert ids.report_name(value) == value


@pytest.mark.parametrize(
    "value", ["acme'cur", "acme;cur", "acme..cur", "..", ".hidden", "acme cur", "acme(1)", "a!", "a*", "", "a/b"]
)
def test_report_names_with_other_characters_are_refused_with_a_rename_hint(value):
    assert refused(ids.report_name, value) == f"report name {value!r} {REPORT_RULE}"


@pytest.mark.parametrize("value", ["landing-bucket", "my.bucket.1", "abc", "a" * 63])
def test_bucket_names_following_the_s3_rules_are_accepted(value):
    assert ids.bucket_name(value) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ab", BUCKET_CHARACTERS),
        ("a" * 64, BUCKET_CHARACTERS),
        ("Landing", BUCKET_CHARACTERS),
        ("landing_bucket", BUCKET_CHARACTERS),
        ("-landing", BUCKET_CHARACTERS),
        ("landing-", BUCKET_CHARACTERS),
        ("landing/x", BUCKET_CHARACTERS),
        ("a..b", "it has two adjacent periods"),
        ("192.168.5.4", "it is formatted as an IP address"),
        ("xn--landing", "it starts with a reserved prefix (xn--, sthree-, amzn-s3-demo-)"),
        ("landing-s3alias", "it ends with a reserved suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"),
    ],
)
def test_bucket_names_breaking_the_s3_rules_are_refused(value, problem):
    assert refused(ids.bucket_name, value) == f"bucket {value!r} is not a valid S3 bucket name: {problem}"


@pytest.mark.parametrize("value", ["a", "a/b.parquet", "a/.hidden", "cur_daily/payer=1/period=2026-09/part-0.parquet"])
def test_relative_keys_are_accepted(value):
    assert ids.object_key(value) == value


BAD_KEYS = [
    ("", "it is empty"),
    ("/abs/key", "it is absolute (starts with '/')"),
    ("..", "it has a '..' segment"),
    ("a/../b", "it has a '..' segment"),
    ("a/..", "it has a '..' segment"),
    ("./a", "it has a '.' segment"),
    ("a/./b", "it has a '.' segment"),
    ("a//b", "it has an empty segment ('//' or a trailing '/')"),
    ("a/b/", "it has an empty segment ('//' or a trailing '/')"),
    ("a\\b", "it has a backslash"),
    ("a\x00b", "it has a control character"),
    ("a\nb", "it has a control character"),
    ("a\x7fb", "it has a control character"),
    ("a" * 1025, "it is longer than 1024 bytes"),
    ("é" * 513, "it is longer than 1024 bytes"),
]


@pytest.mark.parametrize(("value", "problem"), BAD_KEYS)
def test_keys_that_could_leave_their_folder_are_refused(value, problem):
    assert refused(ids.object_key, value) == f"object key {ids.shown(value)} is not a valid object key: {problem}"


def test_a_key_of_1024_bytes_is_accepted():
    assert ids.object_key("a" * 1024) == "a" * 1024


def test_a_key_must_be_a_string():
    assert refused(ids.object_key, ["a"]) == "object key must be a string, not array: ['a']"


def test_a_folder_prefix_may_end_with_one_slash():
    assert ids.object_prefix("a/b/") == "a/b"
    assert ids.object_prefix("a/b") == "a/b"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "prefix '' names the whole store: give a folder"),
        ("/", "prefix '/' names the whole store: give a folder"),
        ("//", "prefix '//' is not a valid folder: it is absolute (starts with '/')"),
        ("a//", "prefix 'a//' is not a valid folder: it has an empty segment ('//' or a trailing '/')"),
        ("_candidates/x/../..", "prefix '_candidates/x/../..' is not a valid folder: it has a '..' segment"),
    ],
)
def test_a_prefix_naming_the_whole_store_or_leaving_it_is_refused(value, message):
    assert refused(ids.object_prefix, value) == message


@pytest.mark.parametrize("value", ["a/*.parquet", "a/**", "a/file?.parquet", "a/[ab].parquet", "a/{x,y}.parquet"])
def test_data_file_keys_with_glob_characters_are_refused(value):
    assert refused(ids.data_file_key, value) == f"data file key {value!r} has a glob character (*?[]{{}})"


def test_an_s3_uri_gives_its_checked_bucket_and_key():
    assert ids.s3_uri("s3://landing-bucket/a/b.parquet") == ("landing-bucket", "a/b.parquet")
    assert refused(ids.s3_uri, "/tmp/x") == "S3 URI '/tmp/x' is not an s3:// URI"
    assert refused(ids.s3_uri, "s3://landing-bucket/a/../b") == (
        "key of S3 URI 'a/../b' is not a valid object key: it has a '..' segment"
    )
    assert refused(ids.s3_uri, "s3://Bad/a") == (
        f"bucket of S3 URI 'Bad' is not a valid S3 bucket name: {BUCKET_CHARACTERS}"
    )


def test_a_cur2_billing_period_is_a_real_month():
    assert ids.billing_month("2026-09") == date(2026, 9, 1)
    assert ids.billing_month("2026-12") == date(2026, 12, 1)
    for value in ("2026-13", "2026-00", "2026-9", "0000-01", "2026-09-01"):
        assert refused(ids.billing_month, value) == f"billing period {value!r} is not a month like 2026-09"


def test_a_legacy_folder_is_one_calendar_month():
    assert ids.billing_folder("20260901-20261001") == (date(2026, 9, 1), date(2026, 10, 1))
    assert ids.billing_folder("20261201-20270101") == (date(2026, 12, 1), date(2027, 1, 1))
    for value in ("20260915-20261001", "20260901-20261101", "20261301-20270101", "20260901"):
        assert refused(ids.billing_folder, value) == (
            f"billing period folder {value!r} is not one calendar month like 20260901-20261001 (first day to first day)"
        )


SEPTEMBER = (date(2026, 9, 1), date(2026, 10, 1))


def test_a_legacy_billing_period_equal_to_its_folder_gives_the_month():
    period = {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"}
    assert ids.legacy_billing_period(period, *SEPTEMBER) == date(2026, 9, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-09", "billingPeriod must be an object with 'start' and 'end', not string: '2026-09'"),
        (None, "billingPeriod must be an object with 'start' and 'end', not null"),
        (
            ["20260901T000000.000Z"],
            "billingPeriod must be an object with 'start' and 'end', not array: ['20260901T000000.000Z']",
        ),
        ({"end": "20261001T000000.000Z"}, "billingPeriod start must be a string, not null"),
        ({"start": 20260901, "end": "x"}, "billingPeriod start must be a string, not number: 20260901"),
        ({"start": "2026-09-01", "end": "x"}, "billingPeriod start '2026-09-01' is not like 20250101T000000.000Z"),
        (
            {"start": "20260931T000000.000Z", "end": "x"},
            "billingPeriod start '20260931T000000.000Z' is not like 20250101T000000.000Z",
        ),
        (
            {"start": "20260901T120000.000Z", "end": "x"},
            "billingPeriod start '20260901T120000.000Z' is not like 20250101T000000.000Z",
        ),
        (
            {"start": "20260801T000000.000Z", "end": "20260901T000000.000Z"},
            "billingPeriod start 2026-08-01 does not match the folder 20260901-20261001",
        ),
        (
            {"start": "20260901T000000.000Z", "end": "20261101T000000.000Z"},
            "billingPeriod end 2026-11-01 does not match the folder 20260901-20261001",
        ),
    ],
)
def test_a_legacy_billing_period_of_another_shape_or_month_is_refused(value, message):
    assert refused(ids.legacy_billing_period, value, *SEPTEMBER) == message

"""The IAM policy documents (docs/aws/iam/) and the evaluation that checks the DAG runs' calls against the
worker's (tests/iam.py; the runs: tests/integration/test_athena_engine.py, test_redshift_warehouse.py)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT
from tests.iam import ACCOUNT, Call, denied, load_policy

POLICY = ROOT / "docs" / "aws" / "iam" / "billflow-worker.json"
REGION = "eu-west-1"
VALUES = {
    "LandingBucket": "cur-landing",
    "LandingPrefix": "replicated/",
    "StagedBucket": "billflow-staged",
    "StagedPrefix": "",
    "AthenaResultsBucket": "athena-results",
    "AthenaResultsPrefix": "billflow/",
    "Region": REGION,
    "Account": ACCOUNT,
    "GlueDatabase": "billflow_raw",
    "SpectrumGlueDatabase": "billflow_staged",
    "AthenaWorkgroup": "billflow",
    "DeliveryQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:billflow-deliveries",
}


@pytest.fixture
def policy():
    return load_policy(POLICY, **VALUES)


def refused(policy, *calls: Call) -> list[str]:
    return denied(policy, list(calls), REGION, "billflow")


def test_the_policy_names_no_wildcard_action_and_no_unscoped_resource():
    document = json.loads(POLICY.read_text())
    actions = [
        a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    resources = [
        r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert [a for a in actions if "*" in a] == []
    assert [r for r in resources if r == "*" or r.endswith(":*")] == []
    assert sorted(set(re.findall(r"\$\{(\w+)\}", POLICY.read_text()))) == sorted(VALUES)


def test_reading_the_landing_zone_under_its_prefix_is_allowed_and_elsewhere_refused(policy):
    inside = Call("s3", "GetObject", {"Bucket": "cur-landing", "Key": "replicated/111111111111/cur/m.json"})
    outside = Call("s3", "GetObject", {"Bucket": "cur-landing", "Key": "other/111111111111/cur/m.json"})
    listing_outside = Call("s3", "ListObjectsV2", {"Bucket": "cur-landing", "Prefix": "other/"})

    assert (
        refused(policy, inside, Call("s3", "ListObjectsV2", {"Bucket": "cur-landing", "Prefix": "replicated/a"})) == []
    )
    assert refused(policy, outside, listing_outside) == [
        "s3 GetObject: s3:GetObject on arn:aws:s3:::cur-landing/other/111111111111/cur/m.json",
        "s3 ListObjectsV2: s3:ListBucket on arn:aws:s3:::cur-landing",
    ]


def test_the_landing_zone_is_read_only_and_the_staged_area_is_writable(policy):
    assert refused(
        policy,
        Call("s3", "PutObject", {"Bucket": "cur-landing", "Key": "replicated/x"}),
        Call("s3", "PutObject", {"Bucket": "billflow-staged", "Key": "payer=1/x.parquet"}),
        Call("s3", "DeleteObjects", {"Bucket": "billflow-staged", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}),
    ) == ["s3 PutObject: s3:PutObject on arn:aws:s3:::cur-landing/replicated/x"]


def test_glue_tables_other_than_a_deliverys_and_other_workgroups_are_refused(policy):
    table = {"DatabaseName": "billflow_raw", "TableInput": {"Name": "delivery_0123abcd"}}
    other = {"DatabaseName": "billflow_raw", "TableInput": {"Name": "invoices"}}

    assert refused(
        policy,
        Call("glue", "CreateTable", table),
        Call("glue", "CreateTable", other),
        Call("athena", "StartQueryExecution", {"WorkGroup": "billflow"}),
        Call("athena", "StartQueryExecution", {"WorkGroup": "primary"}),
    ) == [
        "glue CreateTable: glue:CreateTable on arn:aws:glue:eu-west-1:123456789012:catalog, "
        "arn:aws:glue:eu-west-1:123456789012:database/billflow_raw, "
        "arn:aws:glue:eu-west-1:123456789012:table/billflow_raw/invoices",
        "athena StartQueryExecution: athena:StartQueryExecution on "
        "arn:aws:athena:eu-west-1:123456789012:workgroup/primary",
    ]


def test_a_call_with_no_iam_action_written_down_fails_the_check(policy):
    with pytest.raises(AssertionError, match="no IAM action written down for s3 PutBucketPolicy"):
        refused(policy, Call("s3", "PutBucketPolicy", {"Bucket": "billflow-staged"}))


SPECTRUM_POLICY = ROOT / "docs" / "aws" / "iam" / "billflow-redshift-spectrum.json"
SPECTRUM_VALUES = {
    "StagedBucket": "billflow-staged",
    "StagedPrefix": "billflow/",
    "Region": REGION,
    "Account": ACCOUNT,
    "SpectrumGlueDatabase": "billflow_staged",
}


def test_the_spectrum_role_reads_the_staged_tables_and_versions_and_nothing_else():
    policy = load_policy(SPECTRUM_POLICY, **SPECTRUM_VALUES)
    assert sorted(set(re.findall(r"\$\{(\w+)\}", SPECTRUM_POLICY.read_text()))) == sorted(SPECTRUM_VALUES)
    version = "billflow/versions/payer=111111111111/period=2026-09/20261001T060000000000Z-a/cur_daily/part-0.parquet"
    staged_table = {"DatabaseName": "billflow_staged", "Name": "cur_daily"}

    assert (
        refused(
            policy,
            Call("glue", "GetTable", staged_table),
            Call("glue", "GetPartitions", {"DatabaseName": "billflow_staged", "TableName": "cur_daily_tags"}),
            Call("s3", "ListObjectsV2", {"Bucket": "billflow-staged", "Prefix": "billflow/versions/payer=1"}),
            Call("s3", "GetObject", {"Bucket": "billflow-staged", "Key": version}),
        )
        == []
    )
    assert refused(
        policy,
        Call("glue", "GetTable", {"DatabaseName": "billflow_raw", "Name": "cur_daily"}),
        Call("glue", "CreateTable", {"DatabaseName": "billflow_staged", "TableInput": {"Name": "cur_daily"}}),
        Call("s3", "PutObject", {"Bucket": "billflow-staged", "Key": version}),
        Call("s3", "GetObject", {"Bucket": "cur-landing", "Key": "replicated/m.json"}),
    ) == [
        "glue GetTable: glue:GetTable on arn:aws:glue:eu-west-1:123456789012:catalog, "
        "arn:aws:glue:eu-west-1:123456789012:database/billflow_raw, "
        "arn:aws:glue:eu-west-1:123456789012:table/billflow_raw/cur_daily",
        "glue CreateTable: glue:CreateTable on arn:aws:glue:eu-west-1:123456789012:catalog, "
        "arn:aws:glue:eu-west-1:123456789012:database/billflow_staged, "
        "arn:aws:glue:eu-west-1:123456789012:table/billflow_staged/cur_daily",
        f"s3 PutObject: s3:PutObject on arn:aws:s3:::billflow-staged/{version}",
        "s3 GetObject: s3:GetObject on arn:aws:s3:::cur-landing/replicated/m.json",
    ]

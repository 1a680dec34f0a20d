"""billflow's own MinIO user in the compose stack: the policy file (deploy/compose/minio-init/billflow-policy.json)
grants exactly what billflow needs, the minio-buckets script (minio-init.sh) creates the buckets, the policy and
the user with the root account, and billflow's S3 code works as that user and is refused anything else.

MinIO itself is not on this machine: the script runs against a recording stand-in for `mc`, and the policy is
enforced by a moto server with IAM authorization switched on (moto evaluates AWS IAM policies, the format MinIO
reads).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.exceptions import ClientError

from billflow.config import load_settings
from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.formats.discovery import discover_deliveries
from billflow.staging.stage import stage_delivery
from billflow.staging.versions import delete_version
from billflow.storage.base import open_store
from billflow.warehouse.build import prepare_warehouse_build
from tests.integration.conftest import free_port
from tests.integration.test_compose_file import BILLFLOW_SETTINGS
from tests.integration.test_s3_landing import DATA_KEY, MANIFEST_KEY, land_legacy_delivery
from tests.rawcur import EXPECTED_TOTALS, raw_table
from tests.unit.test_staging import totals_by_type

ROOT = Path(__file__).resolve().parents[2]
MINIO_INIT_DIR = ROOT / "deploy" / "compose" / "minio-init"
MINIO_INIT = MINIO_INIT_DIR / "minio-init.sh"
POLICY_FILE = MINIO_INIT_DIR / "billflow-policy.json"

LANDING, STAGED = "billflow-landing", "billflow-staged"
REGION = "us-east-1"


def policy() -> dict:
    return json.loads(POLICY_FILE.read_text())


# --- the policy file --------------------------------------------------------------------------------


def test_the_policy_grants_exactly_list_on_both_buckets_read_on_landing_and_read_write_delete_on_staged():
    document = policy()

    assert document["Version"] == "2012-10-17"
    granted = {
        (statement["Effect"], tuple(statement["Action"]), tuple(statement["Resource"]))
        for statement in document["Statement"]
    }
    assert granted == {
        ("Allow", ("s3:GetBucketLocation", "s3:ListBucket"), (f"arn:aws:s3:::{LANDING}", f"arn:aws:s3:::{STAGED}")),
        ("Allow", ("s3:GetObject",), (f"arn:aws:s3:::{LANDING}/*",)),
        (
            "Allow",
            ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"),
            (f"arn:aws:s3:::{STAGED}/*",),
        ),
    }
    assert len(document["Statement"]) == 3
    # no conditions, no principals, nothing beyond Sid/Effect/Action/Resource
    assert {key for statement in document["Statement"] for key in statement} == {"Sid", "Effect", "Action", "Resource"}


def test_the_policy_grants_nothing_on_the_store_root_or_any_other_bucket():
    resources = {resource for statement in policy()["Statement"] for resource in statement["Resource"]}
    actions = {action for statement in policy()["Statement"] for action in statement["Action"]}

    assert not any("*" in resource.removesuffix("/*") for resource in resources)
    assert {resource.removesuffix("/*") for resource in resources} == {
        f"arn:aws:s3:::{LANDING}",
        f"arn:aws:s3:::{STAGED}",
    }
    assert not any("*" in action for action in actions)
    assert {action.split(":")[0] for action in actions} == {"s3"}  # no admin:* on MinIO itself
    assert "s3:ListAllMyBuckets" not in actions and "s3:CreateBucket" not in actions
    assert len(POLICY_FILE.read_text()) <= 2048  # mc admin policy create takes at most 2048 characters


def test_the_policy_names_the_buckets_the_stack_uses():
    buckets = {uri.removeprefix("s3://") for name, uri in BILLFLOW_SETTINGS.items() if name.endswith("_URI")}
    named = {
        resource.removeprefix("arn:aws:s3:::").removesuffix("/*")
        for statement in policy()["Statement"]
        for resource in statement["Resource"]
    }
    assert buckets == named == {LANDING, STAGED}


# --- the minio-buckets script, against a recording stand-in for mc -----------------------------------


ROOT_USER, ROOT_PASSWORD = "minio-root", "RootPassword0123456789"
APP_KEY, APP_SECRET = "APPKEY0123456789ABCD", "AppSecret0123456789abcdefghij"


@pytest.fixture
def fake_mc(tmp_path) -> Path:
    """`mc` that appends its arguments to mc-calls and succeeds, except `alias set` when MC_ALIAS_FAILS is set."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "mc").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path}/mc-calls\n'
        'if [ "$1 $2" = "alias set" ] && [ -n "${MC_ALIAS_FAILS:-}" ]; then exit 1; fi\n'
    )
    (folder / "mc").chmod(0o755)
    return folder


def run_minio_init(fake_mc: Path, **overrides: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{fake_mc}:{os.environ['PATH']}",
        "MINIO_ROOT_USER": ROOT_USER,
        "MINIO_ROOT_PASSWORD": ROOT_PASSWORD,
        "MINIO_BILLFLOW_ACCESS_KEY": APP_KEY,
        "MINIO_BILLFLOW_SECRET_KEY": APP_SECRET,
        **overrides,
    }
    # dash: the POSIX sh the script promises, as the mc image's /bin/sh runs it
    return subprocess.run(["dash", str(MINIO_INIT)], env=env, capture_output=True, text=True, check=False)


def test_minio_init_creates_the_buckets_the_policy_and_billflows_user_with_the_root_account(tmp_path, fake_mc):
    done = run_minio_init(fake_mc)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mc-calls").read_text().splitlines() == [
        f"alias set root http://minio:9000 {ROOT_USER} {ROOT_PASSWORD}",
        f"mb --ignore-existing root/{LANDING} root/{STAGED}",
        f"admin policy create root billflow {POLICY_FILE}",
        f"admin user add root {APP_KEY} {APP_SECRET}",
        f"admin policy attach root billflow --user {APP_KEY}",
    ]
    assert ROOT_PASSWORD not in done.stdout + done.stderr


def test_minio_init_runs_the_same_commands_again_on_a_restart(tmp_path, fake_mc):
    assert run_minio_init(fake_mc).returncode == 0
    first = (tmp_path / "mc-calls").read_text()
    assert run_minio_init(fake_mc).returncode == 0
    assert (tmp_path / "mc-calls").read_text() == first * 2


def test_minio_init_refuses_to_make_the_root_account_billflows_user(tmp_path, fake_mc):
    done = run_minio_init(fake_mc, MINIO_BILLFLOW_ACCESS_KEY=ROOT_USER)

    assert done.returncode == 1
    assert (
        done.stderr == "MINIO_BILLFLOW_ACCESS_KEY must differ from MINIO_ROOT_USER: billflow gets its own MinIO user\n"
    )
    assert not (tmp_path / "mc-calls").exists()


def test_minio_init_requires_billflows_credentials(tmp_path, fake_mc):
    done = run_minio_init(fake_mc, MINIO_BILLFLOW_SECRET_KEY="")

    assert done.returncode != 0
    assert "MINIO_BILLFLOW_SECRET_KEY" in done.stderr
    assert not (tmp_path / "mc-calls").exists()


def test_minio_init_gives_up_when_minio_never_accepts_the_root_account(tmp_path, fake_mc):
    done = run_minio_init(fake_mc, MC_ALIAS_FAILS="1", MINIO_WAIT_SECONDS="2")

    assert done.returncode == 1
    assert done.stderr == "minio did not accept the root account at http://minio:9000\n"
    assert [line.split()[:2] for line in (tmp_path / "mc-calls").read_text().splitlines()] == [["alias", "set"]] * 2


# --- the policy enforced: billflow's S3 code as the policy's user ------------------------------------


@dataclass(frozen=True)
class Credentials:
    key: str
    secret: str


@dataclass(frozen=True)
class IamS3:
    endpoint: str
    billflow: Credentials  # the user holding billflow-policy.json
    delivery: Credentials  # stands for AWS writing CUR deliveries into the landing bucket

    def client(self, who: Credentials):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=who.key,
            aws_secret_access_key=who.secret,
        )


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
            return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"moto server did not start on port {port}", pytrace=False)
            time.sleep(0.1)


def user_with_policy(iam, name: str, document: str) -> Credentials:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def as_moto_reads_it(document: dict) -> dict:
    """The policy plus one statement moto needs: moto authorizes a DeleteObjects (batch) request as s3:DeleteObject
    on the bucket's ARN, where AWS and MinIO check s3:DeleteObject on each object's ARN. Granted for the staged
    bucket only, as the policy grants deletes there."""
    moto_batch_delete = {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{STAGED}"]}
    return {**document, "Statement": [*document["Statement"], moto_batch_delete]}


@pytest.fixture(scope="module")
def iam_s3() -> Iterator[IamS3]:
    """A moto server in its own process (its authorization switch is process-wide): the two buckets and an
    `unrelated` one, billflow's user and a CUR delivery user; then authorization on for every request."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    try:
        setup = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        }
        s3, iam = boto3.client("s3", **setup), boto3.client("iam", **setup)
        for bucket in (LANDING, STAGED, "unrelated"):
            s3.create_bucket(Bucket=bucket)
        everything = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )
        stack = IamS3(
            endpoint,
            billflow=user_with_policy(iam, "billflow", json.dumps(as_moto_reads_it(policy()))),
            delivery=user_with_policy(iam, "cur-delivery", everything),
        )
        switch_on = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(switch_on).close()
        yield stack
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def stack(iam_s3, monkeypatch) -> IamS3:
    """Empty buckets, a legacy CUR delivery in the landing zone, and aws_default = billflow's user, as in
    the compose file."""
    delivery = iam_s3.client(iam_s3.delivery)
    for bucket in (LANDING, STAGED):
        for obj in delivery.list_objects_v2(Bucket=bucket).get("Contents", []):
            delivery.delete_object(Bucket=bucket, Key=obj["Key"])
    land_legacy_delivery(delivery, "assembly-1", raw_table("legacy"))
    for name in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "PROFILE", "ENDPOINT_URL", "ENDPOINT_URL_S3"):
        monkeypatch.delenv(f"AWS_{name}", raising=False)
    connection = {
        "conn_type": "aws",
        "login": iam_s3.billflow.key,
        "password": iam_s3.billflow.secret,
        "extra": {"endpoint_url": iam_s3.endpoint, "region_name": REGION},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return iam_s3


def access_denied(call) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


def test_billflow_stages_builds_from_and_deletes_a_version_as_its_own_user(stack, tmp_path, monkeypatch):
    landing, staged = open_store(f"s3://{LANDING}"), open_store(f"s3://{STAGED}")

    [delivery] = discover_deliveries(landing).deliveries
    engine = DuckDBEngine(threads=1)
    result = stage_delivery(delivery, landing, staged, engine, tag_keys=("team",))
    version = result.version
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path))
    build = prepare_warehouse_build(load_settings(), staged, [version], "r1")

    assert (result.raw_rows, result.staged_rows, build.cost_rows) == (12, 11, 11)
    keys = [version.cost_key, version.tags_key, version.raw_totals_key, version.raw_checks_key]
    assert staged.list_keys() == sorted(keys)
    warehouse = duckdb.connect(str(tmp_path / "candidate" / "warehouse.duckdb"), read_only=True)
    assert totals_by_type(warehouse.sql("select * from staged.cur_daily").to_arrow_table(), "line_item_count") == (
        EXPECTED_TOTALS
    )
    warehouse.close()
    delete_version(staged, version)
    assert staged.list_keys() == []
    assert landing.list_keys() == sorted([DATA_KEY, MANIFEST_KEY])
    engine.close()


def test_billflows_user_reads_the_landing_zone_but_cannot_write_or_delete_there(stack):
    billflow = stack.client(stack.billflow)

    assert billflow.get_object(Bucket=LANDING, Key=DATA_KEY)["ContentLength"] > 0
    assert access_denied(lambda: billflow.put_object(Bucket=LANDING, Key="injected.csv", Body=b"x"))
    assert access_denied(lambda: billflow.delete_object(Bucket=LANDING, Key=DATA_KEY))
    assert access_denied(lambda: billflow.copy_object(Bucket=LANDING, Key="copy", CopySource=f"{LANDING}/{DATA_KEY}"))
    with pytest.raises(OSError, match=r"could not delete 1 objects from s3://billflow-landing, .*AccessDenied"):
        open_store(f"s3://{LANDING}").delete_prefix(DATA_KEY)
    assert open_store(f"s3://{LANDING}").list_keys() == sorted([DATA_KEY, MANIFEST_KEY])


def test_billflows_user_cannot_list_create_or_touch_other_buckets(stack):
    billflow = stack.client(stack.billflow)

    assert access_denied(lambda: billflow.list_buckets())
    assert access_denied(lambda: billflow.create_bucket(Bucket="billflow-exports"))
    assert access_denied(lambda: billflow.list_objects_v2(Bucket="unrelated"))
    assert access_denied(lambda: billflow.put_object(Bucket="unrelated", Key="x", Body=b"x"))
    assert access_denied(lambda: billflow.get_object(Bucket="unrelated", Key="x"))

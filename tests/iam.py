"""The AWS calls billflow makes, recorded at botocore, checked against an IAM policy document.

`recorded_calls` records each API call of this process (service, operation, parameters) made outside the
tests' own helpers; `denied` names each call that no Allow statement of the policy covers. The evaluation
is the part of IAM's that billflow's policy uses: Allow statements (no Deny), actions and resource ARNs
with `*` wildcards, and the `StringLike` condition on `s3:prefix`. The IAM action and the resources of
each call are written out below per operation, from the Service Authorization Reference; an operation
not listed fails the check, so a new kind of call is never waved through.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from string import Template
from typing import Any

ACCOUNT = "123456789012"  # moto's account


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class Request:
    """What IAM authorizes for one call: an action on resources, with the condition keys it brings."""

    action: str
    resources: tuple[str, ...]
    context: tuple[tuple[str, str], ...] = ()


@contextmanager
def recorded_calls(skip_files: tuple[str, ...] = ()) -> Iterator[list[Call]]:
    """Every botocore API call made meanwhile, but those made from a file whose path ends with one of
    `skip_files` (a test double's own calls)."""
    from botocore.client import BaseClient

    calls: list[Call] = []
    original = BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if not any(frame.f_code.co_filename.endswith(skip_files) for frame in _frames()):
            calls.append(Call(client.meta.service_model.endpoint_prefix, operation, dict(params)))
        return original(client, operation, params)

    BaseClient._make_api_call = recording
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


def _frames() -> Iterator[Any]:
    frame = sys._getframe(2)
    while frame is not None:
        yield frame
        frame = frame.f_back


def load_policy(path: Path, **values: str) -> dict[str, Any]:
    """The policy document with its ${...} placeholders filled in (every one must be given)."""
    return json.loads(Template(path.read_text()).substitute(values))


def requests_of(call: Call, region: str, workgroup: str) -> list[Request]:
    """What IAM authorizes for the call (one request per action it needs)."""
    p, glue = call.params, f"arn:aws:glue:{region}:{ACCOUNT}"
    s3_object = f"arn:aws:s3:::{p.get('Bucket')}/{p.get('Key')}"
    athena = f"arn:aws:athena:{region}:{ACCOUNT}:workgroup/{p.get('WorkGroup', workgroup)}"
    match call.service, call.operation:
        case "s3", "GetObject" | "HeadObject":
            return [Request("s3:GetObject", (s3_object,))]
        case "s3", "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload":
            return [Request("s3:PutObject", (s3_object,))]
        case "s3", "DeleteObject":
            return [Request("s3:DeleteObject", (s3_object,))]
        case "s3", "DeleteObjects":
            keys = tuple(f"arn:aws:s3:::{p['Bucket']}/{obj['Key']}" for obj in p["Delete"]["Objects"])
            return [Request("s3:DeleteObject", keys)]
        case "s3", "ListObjectsV2" | "ListObjects":
            return [Request("s3:ListBucket", (f"arn:aws:s3:::{p['Bucket']}",), (("s3:prefix", p.get("Prefix", "")),))]
        case "s3", "GetBucketLocation":
            return [Request("s3:GetBucketLocation", (f"arn:aws:s3:::{p['Bucket']}",))]
        case "glue", "GetDatabase":
            return [Request("glue:GetDatabase", (f"{glue}:catalog", f"{glue}:database/{p['Name']}"))]
        case "glue", (
            "GetTable"
            | "CreateTable"
            | "UpdateTable"
            | "GetPartitions"
            | "BatchCreatePartition"
            | "BatchDeletePartition"
        ):
            database = p["DatabaseName"]
            table = p.get("Name") or p.get("TableName") or p["TableInput"]["Name"]
            resources = (f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/{table}")
            return [Request(f"glue:{call.operation}", resources)]
        case "athena", "StartQueryExecution" | "GetQueryExecution" | "GetQueryResults" | "StopQueryExecution":
            # Athena authorizes a query's calls on the workgroup it runs in (billflow's, by the settings)
            return [Request(f"athena:{call.operation}", (athena,))]
        case "sqs", "ReceiveMessage" | "DeleteMessage" | "DeleteMessageBatch":
            queue = p["QueueUrl"].rstrip("/").rsplit("/", 2)
            action = "sqs:ReceiveMessage" if call.operation == "ReceiveMessage" else "sqs:DeleteMessage"
            return [Request(action, (f"arn:aws:sqs:{region}:{queue[-2]}:{queue[-1]}",))]
    raise AssertionError(f"no IAM action written down for {call.service} {call.operation}: add it to tests/iam.py")


def _strings(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _allows(statement: dict[str, Any], request: Request) -> bool:
    if statement["Effect"] != "Allow":
        raise AssertionError("the evaluation here knows Allow statements only")
    if not any(fnmatchcase(request.action, action) for action in _strings(statement["Action"])):
        return False
    patterns = _strings(statement["Resource"])
    if not all(any(fnmatchcase(arn, pattern) for pattern in patterns) for arn in request.resources):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        if operator != "StringLike" or set(keys) - {"s3:prefix"}:
            raise AssertionError(f"the evaluation here knows StringLike on s3:prefix only, not {operator} {keys}")
        context = dict(request.context)
        if "s3:prefix" not in context:
            return False
        if not any(fnmatchcase(context["s3:prefix"], pattern) for pattern in _strings(keys["s3:prefix"])):
            return False
    return True


def denied(policy: dict[str, Any], calls: list[Call], region: str, workgroup: str) -> list[str]:
    """Each call (with the action and resources it needs) that no statement of the policy allows."""
    refused = []
    for call in calls:
        for request in requests_of(call, region, workgroup):
            if not any(_allows(statement, request) for statement in policy["Statement"]):
                refused.append(f"{call.service} {call.operation}: {request.action} on {', '.join(request.resources)}")
    return refused

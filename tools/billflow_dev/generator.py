"""Sample CUR generator: writes AWS-shaped deliveries (data files + manifest) into a landing zone.

Layouts (docs/ARCHITECTURE.md), with ``<payer>`` = payer account id:

* legacy: ``<payer>/<report>/<report>/year=2026/month=9/<report>-00001.snappy.parquet`` and
  ``<payer>/<report>/20260901-20261001/<report>-Manifest.json``
* cur2:   ``<payer>/<export>/data/BILLING_PERIOD=2026-09/<export>-00001.snappy.parquet`` and
  ``<payer>/<export>/metadata/BILLING_PERIOD=2026-09/<export>-Manifest.json``

The data is produced day by day (daily time granularity) and written in bounded chunks with numpy
vectorised per chunk. Every line item type of dbt_project/seeds/line_item_types.csv appears, with the
relationships a loader relies on (Savings Plans negation and recurring fees, RI fees, fees, discounts, credits, refunds,
tax). Money is generated as integers of 1e-8 USD, so every cost is a double whose ``repr`` is the
exact 8-decimal value and every sum quoted in the result is exact.

Shapes (``shape=``):

* ``small`` (default): 2 payers x 4 linked accounts unless overridden, 9 services, 5 regions, a few
  resources per usage type; the staged rows hardly grow with the lines (2 x 8 accounts: 115k staged
  rows at 10M lines). Its files are byte for byte those of the generator before the realistic shape.
* ``realistic``: 10 payers and 2,000 linked accounts in all (``linked_accounts``, spread unevenly over
  the payers by spread_accounts; each payer's lines in proportion), 32 services, 16 regions plus global
  services, ~1,800 usage kinds (instance families x sizes x operating systems, database classes x
  engines, storage classes, inter-region data transfer ...), i.e. thousands of usage types with their
  region prefixes. Each account has its own long-tailed mix of services, regions (mostly one or two)
  and usage types, more of them the more lines it has (lognormal); each usage line names a resource
  out of pools per (account, region, resource kind), one resource per ~6 expected lines a day. Every
  linked account has a usage line on day 1. Measured (seed 1, whole month): 10M lines -> 1.3M staged
  rows (plugins/billflow/staging/sql/stage_cur_daily.sql grain), 3,200 usage types, 38k resources;
  100M lines -> 7.4M staged rows, 6,300 usage types, 239k resources.

Determinism: the structure (catalogue, counts, ids, resources) comes from ``(seed, payer, period)``;
amounts come from ``(seed, payer, period, redeliver)``; manifest ids from the same tuple. Same options ->
byte-identical files.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from billflow.formats import columns as cols

# --------------------------------------------------------------------------------------------
# Public constants and helpers
# --------------------------------------------------------------------------------------------

LINE_ITEM_TYPES: tuple[str, ...] = (
    "Usage",
    "DiscountedUsage",
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "SavingsPlanRecurringFee",
    "SavingsPlanUpfrontFee",
    "RIFee",
    "Fee",
    "Credit",
    "Refund",
    "Tax",
    "BundledDiscount",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
)
(
    USAGE,
    DISCOUNTED_USAGE,
    SP_COVERED,
    SP_NEGATION,
    SP_RECURRING_FEE,
    SP_UPFRONT_FEE,
    RI_FEE,
    FEE,
    CREDIT,
    REFUND,
    TAX,
    BUNDLED_DISCOUNT,
    DISCOUNT,
    EDP_DISCOUNT,
    PRIVATE_RATE_DISCOUNT,
) = range(len(LINE_ITEM_TYPES))

FORMAT_CHOICES = ("legacy", "cur2", "mixed")
SHAPE_CHOICES = ("small", "realistic")
# per shape: default payers, linked accounts per payer, linked accounts in all (spread over the payers)
SHAPE_DEFAULTS: dict[str, dict[str, int | None]] = {
    "small": {"payers": 2, "accounts": 4, "linked_accounts": None},
    "realistic": {"payers": 10, "accounts": None, "linked_accounts": 2000},
}
DEFAULT_BUCKET = "billflow-landing"
DEFAULT_ROWS_PER_FILE = 1_000_000
DEFAULT_CHUNK_ROWS = 200_000
MAX_PAYERS = 99  # payer ids: see payer_account_id
MAX_ACCOUNTS = 10_000  # linked accounts of one payer, and in all with linked_accounts
UNITS = 100_000_000  # money is generated in 1e-8 USD
CURRENCY = "USD"

_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class GeneratorError(ValueError):
    """Bad generator input (the CLI turns it into a usage error, exit code 2)."""


def payer_account_id(payer: int) -> str:
    """Deterministic payer account id (1-based): 1 -> '111111111111'; 10..99: 12 -> '912000000000'.

    Payers 1..9 repeat their digit; payers 10..99 are '9' + the two digits + nine zeros. The second digit of
    the latter is never 0, so they differ from every id of payers 1..9 (whose linked ids start 'p000000').
    """
    if payer <= 9:
        return str(payer) * 12
    return f"9{payer:02d}{0:09d}"


def linked_account_id(payer: int, account: int) -> str:
    """Deterministic linked account id (both 1-based): (2, 3) -> '200000000003'; (12, 3) -> '912000000003'."""
    if payer <= 9:
        return f"{payer}{account:011d}"
    return f"9{payer:02d}{account:09d}"


def report_name(payer_id: str, fmt: str) -> str:
    """Legacy report name / CUR 2.0 export name of a payer's sample delivery."""
    return f"billflow-cur-{payer_id}" if fmt == cols.LEGACY else f"billflow-export-{payer_id}"


def parse_period(period: str) -> date:
    """'2026-09' -> date(2026, 9, 1); GeneratorError otherwise."""
    m = _PERIOD_RE.match(period or "")
    if not m:
        raise GeneratorError(f"invalid billing period {period!r}: expected YYYY-MM, e.g. 2026-09")
    return date(int(m.group(1)), int(m.group(2)), 1)


def payer_format(fmt: str, payer: int) -> str:
    """Layout of payer `payer` (1-based): `mixed` gives odd payers legacy, even payers CUR 2.0."""
    if fmt == "mixed":
        return cols.LEGACY if payer % 2 == 1 else cols.CUR2
    return fmt


def data_partition_key(payer_id: str, fmt: str, period_start: date) -> str:
    """Key (relative to the bucket) of the folder holding a delivery's data files."""
    name = report_name(payer_id, fmt)
    if fmt == cols.LEGACY:
        return f"{payer_id}/{name}/{name}/year={period_start.year}/month={period_start.month}"
    return f"{payer_id}/{name}/data/BILLING_PERIOD={period_start:%Y-%m}"


def data_file_name(payer_id: str, fmt: str, number: int) -> str:
    return f"{report_name(payer_id, fmt)}-{number:05d}.snappy.parquet"


def manifest_key(payer_id: str, fmt: str, period_start: date) -> str:
    """Key (relative to the bucket) of a delivery's manifest."""
    name = report_name(payer_id, fmt)
    if fmt == cols.LEGACY:
        end = _next_month(period_start)
        return f"{payer_id}/{name}/{period_start:%Y%m%d}-{end:%Y%m%d}/{name}-Manifest.json"
    return f"{payer_id}/{name}/metadata/BILLING_PERIOD={period_start:%Y-%m}/{name}-Manifest.json"


def minimum_rows(payers: int, days: int, *, shape: str = "small", linked_accounts: int = 0) -> int:
    """Smallest --rows that still gives every payer every line item type for `days` days.

    The realistic shape also gives every one of the `linked_accounts` (in all) a usage line on day 1.
    """
    return payers * _min_rows_per_payer(days) + (linked_accounts if shape == "realistic" else 0)


def spread_accounts(linked_accounts: int, payers: int) -> list[int]:
    """Linked accounts per payer when `linked_accounts` are spread over `payers`: at least one each, the
    rest in proportion to 1 / payer**0.7 (payer 1 the largest organisation). 2000 over 10 -> 503 ... 101."""
    weights = 1.0 / np.arange(1, payers + 1, dtype=np.float64) ** 0.7
    return [int(n) + 1 for n in _split(linked_accounts - payers, weights)]


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayerDelivery:
    """One (payer, billing period) delivery written by the generator."""

    payer_number: int
    payer_account_id: str
    linked_account_ids: tuple[str, ...]
    source_format: str  # 'legacy' | 'cur2'
    report_name: str  # legacy report name / CUR 2.0 export name
    manifest_id: str  # assemblyId (legacy) / executionId (cur2)
    manifest_key: str
    manifest_path: Path
    data_keys: tuple[str, ...]
    data_paths: tuple[Path, ...]
    row_count: int
    rows_by_line_item_type: dict[str, int]
    unblended_cost: Decimal  # exact sum of line_item_unblended_cost
    amortized_cost: Decimal  # exact sum of the amortized-cost rule (docs/ARCHITECTURE.md)
    invoice_id: str | None


@dataclass(frozen=True)
class GenerationResult:
    out_dir: Path
    bucket: str
    period: str
    days: int
    redeliver: bool
    final: bool
    deliveries: tuple[PayerDelivery, ...]
    shape: str = "small"

    @property
    def manifest_paths(self) -> list[Path]:
        return [d.manifest_path for d in self.deliveries]

    @property
    def rows_by_payer(self) -> dict[str, int]:
        return {d.payer_account_id: d.row_count for d in self.deliveries}

    @property
    def total_rows(self) -> int:
        return sum(d.row_count for d in self.deliveries)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate_cur(
    out_dir: Path | str,
    *,
    period: str,
    payers: int | None = None,
    accounts: int | None = None,
    linked_accounts: int | None = None,
    shape: str = "small",
    days: int | None = None,
    rows: int = 100_000,
    seed: int = 7,
    fmt: str = "mixed",
    redeliver: bool = False,
    final: bool = False,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    bucket: str = DEFAULT_BUCKET,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[str], None] | None = None,
) -> GenerationResult:
    """Write one billing period of sample CUR deliveries (one per payer) under `out_dir`.

    `out_dir` is the landing root (= bucket root). `rows` is the target total row count across
    payers. `shape` (SHAPE_CHOICES, module docstring) sets the kind of month and the defaults of
    `payers` and of the linked accounts: `accounts` per payer, or `linked_accounts` in all, spread
    over the payers (spread_accounts); give at most one of the two. Raises GeneratorError on bad input.
    """
    period_start = parse_period(period)
    month_days = calendar.monthrange(period_start.year, period_start.month)[1]
    _check(shape in SHAPE_CHOICES, f"invalid shape {shape!r}: expected one of {', '.join(SHAPE_CHOICES)}")
    _check(fmt in FORMAT_CHOICES, f"invalid format {fmt!r}: expected one of {', '.join(FORMAT_CHOICES)}")
    defaults = SHAPE_DEFAULTS[shape]
    if payers is None:
        payers = defaults["payers"]
    _check(isinstance(payers, int) and 1 <= payers <= MAX_PAYERS, f"--payers must be 1..{MAX_PAYERS}")
    _check(
        accounts is None or linked_accounts is None,
        "give either --accounts (linked accounts per payer) or --linked-accounts (in all), not both",
    )
    if accounts is None and linked_accounts is None:
        accounts, linked_accounts = defaults["accounts"], defaults["linked_accounts"]
    if accounts is not None:
        _check(isinstance(accounts, int) and 1 <= accounts <= MAX_ACCOUNTS, f"--accounts must be 1..{MAX_ACCOUNTS}")
        account_counts = [accounts] * payers
    else:
        _check(
            isinstance(linked_accounts, int) and payers <= linked_accounts <= MAX_ACCOUNTS,
            f"--linked-accounts must be {payers}..{MAX_ACCOUNTS} (at least one per payer), got {linked_accounts}",
        )
        account_counts = spread_accounts(linked_accounts, payers)
    if days is None:
        days = month_days
    _check(1 <= days <= month_days, f"--days must be 1..{month_days} for {period}")
    _check(seed >= 0, "--seed must be >= 0")
    _check(rows_per_file >= 1, "--rows-per-file must be >= 1")
    _check(chunk_rows >= 1000, "chunk_rows must be >= 1000")
    _check(bool(re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket)), f"invalid bucket name {bucket!r}")
    realistic = shape == "realistic"
    need = minimum_rows(payers, days, shape=shape, linked_accounts=sum(account_counts))
    _check(
        rows >= need,
        f"--rows {rows} is too small: every payer needs at least {_min_rows_per_payer(days)} rows to hold "
        f"all {len(LINE_ITEM_TYPES)} line item types over {days} days"
        + (
            f", and the realistic shape one more per linked account ({need} for {payers} payer(s) and "
            f"{sum(account_counts)} linked accounts)"
            if realistic
            else f" ({need} for {payers} payer(s))"
        ),
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deliveries = []
    if realistic:  # each payer's minimum, the rest in proportion to its linked accounts
        minimums = [_min_rows_per_payer(days) + n for n in account_counts]
        budgets = [
            m + int(b) for m, b in zip(minimums, _split(rows - need, np.array(account_counts, float)), strict=True)
        ]
    else:
        per_payer, extra = divmod(rows, payers)
        budgets = [per_payer + (1 if i <= extra else 0) for i in range(1, payers + 1)]
    for i in range(1, payers + 1):
        gen = _PayerGenerator(
            out=out,
            payer=i,
            fmt=payer_format(fmt, i),
            period_start=period_start,
            days=days,
            accounts=account_counts[i - 1],
            shape=shape,
            budget=budgets[i - 1],
            seed=seed,
            redeliver=redeliver,
            final=final,
            rows_per_file=rows_per_file,
            chunk_rows=chunk_rows,
            bucket=bucket,
            progress=progress or (lambda _msg: None),
        )
        deliveries.append(gen.run())
    return GenerationResult(
        out_dir=out,
        bucket=bucket,
        period=f"{period_start:%Y-%m}",
        days=days,
        redeliver=redeliver,
        final=final,
        deliveries=tuple(deliveries),
        shape=shape,
    )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise GeneratorError(message)


# --------------------------------------------------------------------------------------------
# Reference data of the sample world
# --------------------------------------------------------------------------------------------

# region code, usage type prefix, location, price multiplier, weight
_REGIONS = (
    ("us-east-1", "", "US East (N. Virginia)", 1.0, 0.45),
    ("us-west-2", "USW2-", "US West (Oregon)", 1.0, 0.2),
    ("eu-west-1", "EU-", "EU (Ireland)", 1.1, 0.15),
    ("eu-central-1", "EUC1-", "EU (Frankfurt)", 1.15, 0.12),
    ("ap-northeast-1", "APN1-", "Asia Pacific (Tokyo)", 1.25, 0.08),
)

# product code -> product name
_PRODUCTS = {
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AmazonS3": "Amazon Simple Storage Service",
    "AmazonRDS": "Amazon Relational Database Service",
    "AWSLambda": "AWS Lambda",
    "AmazonCloudWatch": "AmazonCloudWatch",
    "AWSDataTransfer": "AWS Data Transfer",
    "AmazonDynamoDB": "Amazon DynamoDB",
    "AmazonECS": "Amazon Elastic Container Service",
    "AmazonVPC": "Amazon Virtual Private Cloud",
}
_USAGE_PRODUCTS = tuple(_PRODUCTS)
_SP_PRODUCT = ("ComputeSavingsPlans", "Savings Plans for AWS Compute usage")
_SUPPORT_PRODUCT = ("AWSSupportBusiness", "AWS Support (Business)")


@dataclass(frozen=True)
class _Kind:
    product: str
    usage_type: str
    operation: str
    unit: str
    rate: float  # public on-demand rate in us-east-1
    lo: float  # usage amount per daily line: uniform in [lo, hi]
    hi: float
    sp_discount: float  # 0: not covered by Compute Savings Plans
    instance_type: str
    family: str
    resource: str
    weight: float
    region: int = -1  # realistic shape: _ANY_REGION, _GLOBAL or the index of its one region in _R_REGIONS


_KINDS = (
    _Kind("AmazonEC2", "BoxUsage:m5.large", "RunInstances", "Hrs", 0.096, 1, 24, 0.28, "m5.large",
          "Compute Instance", "instance", 6),
    _Kind("AmazonEC2", "BoxUsage:c5.xlarge", "RunInstances", "Hrs", 0.17, 1, 24, 0.28, "c5.xlarge",
          "Compute Instance", "instance", 4),
    _Kind("AmazonEC2", "BoxUsage:t3.medium", "RunInstances", "Hrs", 0.0416, 1, 24, 0.25, "t3.medium",
          "Compute Instance", "instance", 5),
    _Kind("AmazonEC2", "BoxUsage:r5.2xlarge", "RunInstances:0002", "Hrs", 0.872, 1, 24, 0.3, "r5.2xlarge",
          "Compute Instance", "instance", 1.5),
    _Kind("AmazonEC2", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Mo", 0.08, 0.5, 40, 0, "",
          "Storage", "volume", 4),
    _Kind("AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", 0.023, 1, 400, 0, "",
          "Storage", "bucket", 4),
    _Kind("AmazonS3", "Requests-Tier1", "PutObject", "Requests", 0.000005, 1000, 500000, 0, "",
          "API Request", "bucket", 2),
    _Kind("AmazonRDS", "InstanceUsage:db.m5.large", "CreateDBInstance:0002", "Hrs", 0.171, 1, 24, 0,
          "db.m5.large", "Database Instance", "rds", 2),
    _Kind("AmazonRDS", "RDS:GP2-Storage", "CreateDBInstance:0002", "GB-Mo", 0.115, 0.5, 30, 0, "",
          "Database Storage", "rds", 1),
    _Kind("AWSLambda", "Lambda-GB-Second", "Invoke", "Lambda-GB-Second", 0.0000166667, 1000, 300000, 0.17,
          "", "Serverless", "lambda", 3),
    _Kind("AWSLambda", "Request", "Invoke", "Requests", 0.0000002, 10000, 3000000, 0, "", "Serverless",
          "lambda", 1.5),
    _Kind("AmazonCloudWatch", "CW:MetricMonitorUsage", "MetricStorage", "Metrics", 0.01, 5, 500, 0, "",
          "Metric", "none", 2),
    _Kind("AmazonCloudWatch", "DataProcessing-Bytes", "PutLogEvents", "GB", 0.5, 0.05, 20, 0, "",
          "Data Payload", "loggroup", 2),
    _Kind("AWSDataTransfer", "DataTransfer-Out-Bytes", "RunInstances", "GB", 0.09, 0.1, 150, 0, "",
          "Data Transfer", "none", 3),
    _Kind("AWSDataTransfer", "DataTransfer-Regional-Bytes", "InterZone-In", "GB", 0.01, 1, 400, 0, "",
          "Data Transfer", "none", 2),
    _Kind("AmazonDynamoDB", "ReadCapacityUnit-Hrs", "CommittedThroughput", "ReadCapacityUnit-Hrs", 0.00013,
          100, 40000, 0, "", "Provisioned IOPS", "table", 1.5),
    _Kind("AmazonDynamoDB", "TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", 0.25, 0.1, 50, 0, "",
          "Database Storage", "table", 1),
    _Kind("AmazonECS", "Fargate-vCPU-Hours:perCPU", "FargateTask", "hours", 0.04048, 1, 96, 0.2, "",
          "Compute", "task", 2),
    _Kind("AmazonECS", "Fargate-GB-Hours", "FargateTask", "hours", 0.004445, 2, 400, 0.2, "", "Compute",
          "task", 1.5),
    _Kind("AmazonVPC", "NatGateway-Hours", "NatGateway", "Hrs", 0.045, 1, 24, 0, "", "NAT Gateway", "nat", 1),
    _Kind("AmazonVPC", "NatGateway-Bytes", "NatGateway", "GB", 0.045, 0.1, 200, 0, "", "NAT Gateway", "nat",
          1),
)  # fmt: skip

_TEAMS = ("platform", "data", "web", "ml", "finance")
_PROJECTS = ("alpha", "beta", "gamma", "delta")
_WORDS = ("orders", "billing", "search", "auth", "media", "events", "reports", "catalog")

# (line item type, product code it applies to or None for every product, description, discount map key)
_DISCOUNTS = (
    (EDP_DISCOUNT, None, 0.03, "Enterprise Discount Program discount", "edp_discount"),
    (PRIVATE_RATE_DISCOUNT, "AmazonEC2", 0.05, "Private pricing discount", "private_rate_discount"),
    (BUNDLED_DISCOUNT, "AWSDataTransfer", 0.10, "Bundled data transfer discount", "bundled_discount"),
    (DISCOUNT, "AmazonS3", 0.02, "Volume discount", "discount"),
)
_TAX_RATE = 0.10
_CREDIT_TEXT = "AWS Promotional Credit"
_CREDIT_RATE = 0.05
_CREDIT_CAP = 500 * UNITS
_SUPPORT_MIN = 100 * UNITS
_SUPPORT_RATE = 0.07

# Share of the bulk rows per kind (the rest is on-demand Usage).
_SP_COVERED_SHARE = 0.11  # each covered row also gets a negation row
_DISCOUNTED_SHARE = 0.06
_DERIVED_SHARE = 0.08  # allowance for fees/discounts/tax/credits before they get coarser
_FIXED_ROWS = 7  # SP upfront fee, 2 RIFee, RI upfront Fee, support Fee, 2 refunds

_PLAN_WEIGHTS = np.array([0.6, 0.4])
_RI_WEIGHTS = np.array([0.6, 0.4])

_PRICING_TERM = {
    USAGE: "OnDemand",
    SP_COVERED: "OnDemand",
    SP_NEGATION: "OnDemand",
    DISCOUNTED_USAGE: "Reserved",
    RI_FEE: "Reserved",
}
_FLOAT_KEYS = frozenset({"amount", "rate", "pod_rate", "sp_rate", "ri_unused_qty"})  # batch figures that are float
_SP_TYPES = (SP_COVERED, SP_NEGATION, SP_RECURRING_FEE, SP_UPFRONT_FEE)
_RI_TYPES = (DISCOUNTED_USAGE, RI_FEE)


# Products a discount applies to alone: day 1 always has a usage line of each, so no type is ever missing.
_ANCHOR_PRODUCTS = tuple(d[1] for d in _DISCOUNTS if d[1] is not None)
_MIN_BULK = 3 + len(_ANCHOR_PRODUCTS)  # covered + negation + discounted + one usage line per anchor product


def _min_rows_per_payer(days: int) -> int:
    # fixed rows + one SP recurring fee per plan and day + 4 discounts + tax + credit + the bulk minimum
    return _FIXED_ROWS + 2 * days + 6 + _MIN_BULK


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def _uuid(*parts: object) -> str:
    return str(uuid.UUID(bytes=_digest(*parts)[:16], version=4))


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to `weights` summing to `total` (largest remainder, ties by index)."""
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:rest]] += 1
    return base


def _to_units(x: np.ndarray) -> np.ndarray:
    return np.rint(x * UNITS).astype(np.int64)


def _money(units: np.ndarray) -> np.ndarray:
    """int64 1e-8 USD -> float64; correctly rounded, so repr() gives back the 8-decimal value."""
    return units / UNITS


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


_B32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)


def _line_item_ids(key: int, start: int, n: int) -> pa.Array:
    """n distinct 13-character base32 ids (a bijection of the row counter), built without Python loops."""
    x = np.arange(start, start + n, dtype=np.uint64) ^ np.uint64(key)
    z = _splitmix64(x)
    chars = np.empty((n, 13), dtype=np.uint8)
    for i in range(13):
        chars[:, i] = _B32[((z >> np.uint64(5 * (12 - i))) & np.uint64(31)).astype(np.intp)]
    offsets = np.arange(0, 13 * n + 1, 13, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Reference data of the realistic shape
# --------------------------------------------------------------------------------------------

# region code, usage type prefix, location, price multiplier, weight, code in inter-region usage types
_R_REGIONS = (
    ("us-east-1", "", "US East (N. Virginia)", 1.0, 0.30, "USE1"),
    ("us-east-2", "USE2-", "US East (Ohio)", 1.0, 0.10, "USE2"),
    ("us-west-1", "USW1-", "US West (N. California)", 1.17, 0.03, "USW1"),
    ("us-west-2", "USW2-", "US West (Oregon)", 1.0, 0.15, "USW2"),
    ("ca-central-1", "CAN1-", "Canada (Central)", 1.1, 0.02, "CAN1"),
    ("sa-east-1", "SAE1-", "South America (Sao Paulo)", 1.5, 0.015, "SAE1"),
    ("eu-west-1", "EU-", "EU (Ireland)", 1.1, 0.10, "EU"),
    ("eu-west-2", "EUW2-", "EU (London)", 1.15, 0.04, "EUW2"),
    ("eu-west-3", "EUW3-", "EU (Paris)", 1.15, 0.015, "EUW3"),
    ("eu-central-1", "EUC1-", "EU (Frankfurt)", 1.15, 0.07, "EUC1"),
    ("eu-north-1", "EUN1-", "EU (Stockholm)", 1.05, 0.01, "EUN1"),
    ("ap-northeast-1", "APN1-", "Asia Pacific (Tokyo)", 1.25, 0.04, "APN1"),
    ("ap-northeast-2", "APN2-", "Asia Pacific (Seoul)", 1.2, 0.015, "APN2"),
    ("ap-southeast-1", "APS1-", "Asia Pacific (Singapore)", 1.2, 0.03, "APS1"),
    ("ap-southeast-2", "APS2-", "Asia Pacific (Sydney)", 1.2, 0.025, "APS2"),
    ("ap-south-1", "APS3-", "Asia Pacific (Mumbai)", 1.1, 0.02, "APS3"),
)
_ANY_REGION, _GLOBAL = -1, -2  # _Kind.region: any region / a global service (no region); >= 0: that region

_R_PRODUCTS = {
    **_PRODUCTS,
    "AmazonEKS": "Amazon Elastic Container Service for Kubernetes",
    "AmazonElastiCache": "Amazon ElastiCache",
    "AmazonRedshift": "Amazon Redshift",
    "AmazonSNS": "Amazon Simple Notification Service",
    "AWSQueueService": "Amazon Simple Queue Service",
    "AWSGlue": "AWS Glue",
    "AmazonAthena": "Amazon Athena",
    "AmazonKinesis": "Amazon Kinesis",
    "AmazonEFS": "Amazon Elastic File System",
    "AmazonRoute53": "Amazon Route 53",
    "awskms": "AWS Key Management Service",
    "AWSSecretsManager": "AWS Secrets Manager",
    "AmazonCloudFront": "Amazon CloudFront",
    "AWSELB": "Elastic Load Balancing",
    "AmazonSageMaker": "Amazon SageMaker",
    "AmazonES": "Amazon OpenSearch Service",
    "AWSCloudTrail": "AWS CloudTrail",
    "AmazonGuardDuty": "Amazon GuardDuty",
    "AWSConfig": "AWS Config",
    "AmazonApiGateway": "Amazon API Gateway",
    "AWSBackup": "AWS Backup",
    "AmazonECR": "Amazon EC2 Container Registry (ECR)",
    "AmazonStates": "AWS Step Functions",
}
_R_USAGE_PRODUCTS = tuple(_R_PRODUCTS)

# resource kind -> resource id pattern ({region}, {acct}, {word}, {n}: number in the pool, {hex} / {HEX}: 17 hex
# digits, lower / upper case)
_R_RESOURCES = {
    "instance": "i-{hex}",
    "volume": "vol-{hex}",
    "snapshot": "arn:aws:ec2:{region}:{acct}:snapshot/snap-{hex}",
    "eip": "eipalloc-{hex}",
    "bucket": "bf-{acct}-{region}-{word}-{n}",
    "rds": "arn:aws:rds:{region}:{acct}:db:{word}-db-{n}",
    "lambda": "arn:aws:lambda:{region}:{acct}:function:{word}-{n}",
    "loggroup": "arn:aws:logs:{region}:{acct}:log-group:/app/{word}-{n}",
    "alarm": "arn:aws:cloudwatch:{region}:{acct}:alarm:{word}-{n}",
    "table": "arn:aws:dynamodb:{region}:{acct}:table/{word}-{n}",
    "task": "arn:aws:ecs:{region}:{acct}:task/{word}-cluster/{hex}{n:015x}",
    "nat": "arn:aws:ec2:{region}:{acct}:natgateway/nat-{hex}",
    "vpce": "arn:aws:ec2:{region}:{acct}:vpc-endpoint/vpce-{hex}",
    "tgw": "arn:aws:ec2:{region}:{acct}:transit-gateway-attachment/tgw-attach-{hex}",
    "vpn": "arn:aws:ec2:{region}:{acct}:vpn-connection/vpn-{hex}",
    "eks": "arn:aws:eks:{region}:{acct}:cluster/{word}-{n}",
    "cache": "arn:aws:elasticache:{region}:{acct}:cluster:{word}-{n:03d}",
    "redshift": "arn:aws:redshift:{region}:{acct}:cluster:{word}-dw-{n}",
    "topic": "arn:aws:sns:{region}:{acct}:{word}-{n}",
    "queue": "arn:aws:sqs:{region}:{acct}:{word}-{n}",
    "glue": "arn:aws:glue:{region}:{acct}:job/{word}-etl-{n}",
    "workgroup": "arn:aws:athena:{region}:{acct}:workgroup/{word}-{n}",
    "stream": "arn:aws:kinesis:{region}:{acct}:stream/{word}-{n}",
    "efs": "arn:aws:elasticfilesystem:{region}:{acct}:file-system/fs-{hex}",
    "zone": "arn:aws:route53:::hostedzone/Z{HEX}",
    "key": "arn:aws:kms:{region}:{acct}:key/{hex}-{n:04d}",
    "secret": "arn:aws:secretsmanager:{region}:{acct}:secret:{word}/{n}-{hex}",
    "distribution": "arn:aws:cloudfront::{acct}:distribution/E{HEX}",
    "lb": "arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/app/{word}-{n}/{hex}",
    "sagemaker": "arn:aws:sagemaker:{region}:{acct}:endpoint/{word}-{n}",
    "domain": "arn:aws:es:{region}:{acct}:domain/{word}-{n}",
    "trail": "arn:aws:cloudtrail:{region}:{acct}:trail/{word}-{n}",
    "detector": "{hex}{n:015x}",
    "api": "arn:aws:apigateway:{region}::/restapis/{hex}",
    "vault": "arn:aws:backup:{region}:{acct}:backup-vault:{word}-{n}",
    "repository": "arn:aws:ecr:{region}:{acct}:repository/{word}-{n}",
    "statemachine": "arn:aws:states:{region}:{acct}:stateMachine:{word}-{n}",
}
_R_WORDS = (
    *_WORDS, "payments", "checkout", "inventory", "users", "profile", "notify", "ingest", "etl", "analytics", "ads",
    "recs", "pricing", "shipping", "fraud", "identity", "gateway", "ledger", "stream", "batch", "feeds",
)  # fmt: skip

# EC2 instance families: family, Linux on-demand rate of the .large size in us-east-1, sizes, weight
_EC2_FAMILIES = (
    ("t3", 0.0832, "nano micro small medium large xlarge 2xlarge", 6),
    ("t3a", 0.0752, "micro small medium large xlarge 2xlarge", 2),
    ("t4g", 0.0672, "nano micro small medium large xlarge 2xlarge", 2),
    ("m5", 0.096, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal", 6),
    ("m5a", 0.086, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge", 1),
    ("m6i", 0.096, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge", 4),
    ("m6g", 0.077, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 2),
    ("m7i", 0.1008, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1.5),
    ("m7g", 0.0816, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1.5),
    ("c5", 0.085, "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge", 4),
    ("c6i", 0.085, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge", 3),
    ("c6g", 0.068, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1.5),
    ("c7g", 0.0725, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1.5),
    ("r5", 0.126, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge", 3),
    ("r6i", 0.126, "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge", 2.5),
    ("r6g", 0.1008, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1.5),
    ("r7g", 0.1071, "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 1),
    ("i3", 0.156, "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge", 0.6),
    ("i4i", 0.172, "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge", 0.5),
    ("z1d", 0.186, "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge", 0.2),
    ("d3", 0.2495, "xlarge 2xlarge 4xlarge 8xlarge", 0.2),
    ("g4dn", 0.263, "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", 0.6),
    ("g5", 0.503, "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge", 0.4),
    ("p3", 0.765, "2xlarge 8xlarge 16xlarge", 0.1),
    ("inf2", 0.379, "xlarge 8xlarge 24xlarge 48xlarge", 0.1),
)
# size -> (rate multiplier against .large, weight)
_EC2_SIZES = {
    "nano": (0.0625, 0.1), "micro": (0.125, 0.4), "small": (0.25, 0.4), "medium": (0.5, 0.6),
    "large": (1, 1.0), "xlarge": (2, 0.8), "2xlarge": (4, 0.5), "3xlarge": (6, 0.1), "4xlarge": (8, 0.25),
    "6xlarge": (12, 0.05), "8xlarge": (16, 0.1), "9xlarge": (18, 0.08), "12xlarge": (24, 0.06),
    "16xlarge": (32, 0.04), "18xlarge": (36, 0.03), "24xlarge": (48, 0.03), "32xlarge": (64, 0.01),
    "48xlarge": (96, 0.01), "metal": (48, 0.01),
}  # fmt: skip
# operating system / purchase option: usage type prefix, operation, rate multiplier, weight, SP discount
_EC2_OPTIONS = (
    ("BoxUsage", "RunInstances", 1.0, 1.0, 0.28),  # Linux
    ("BoxUsage", "RunInstances:0002", 1.55, 0.12, 0.2),  # Windows
    ("BoxUsage", "RunInstances:0010", 1.3, 0.03, 0.2),  # RHEL
    ("BoxUsage", "RunInstances:0006", 2.2, 0.01, 0.15),  # Windows with SQL Server Standard
    ("SpotUsage", "RunInstances:SV050", 0.32, 0.12, 0.0),  # Spot
)
_RDS_CLASSES = (
    ("t3.micro", 0.017, 1), ("t3.small", 0.034, 1), ("t3.medium", 0.068, 1.5), ("t4g.medium", 0.065, 1),
    ("m5.large", 0.171, 2), ("m5.xlarge", 0.342, 1.2), ("m5.2xlarge", 0.684, 0.6), ("m6g.large", 0.152, 1),
    ("m6g.xlarge", 0.304, 0.8), ("r5.large", 0.24, 1.2), ("r5.xlarge", 0.48, 1), ("r5.2xlarge", 0.96, 0.5),
    ("r6g.large", 0.215, 1), ("r6g.xlarge", 0.43, 0.8), ("r6g.2xlarge", 0.86, 0.4), ("r6g.4xlarge", 1.72, 0.2),
    ("r6i.4xlarge", 2.0, 0.1),
)  # fmt: skip
_RDS_ENGINES = (
    ("CreateDBInstance:0002", 1.0, 2),  # MySQL
    ("CreateDBInstance:0014", 1.05, 2.5),  # PostgreSQL
    ("CreateDBInstance:0016", 1.16, 1),  # Aurora MySQL
    ("CreateDBInstance:0021", 1.16, 1.2),  # Aurora PostgreSQL
    ("CreateDBInstance:0012", 1.4, 0.2),  # SQL Server Express
    ("CreateDBInstance:0005", 1.6, 0.1),  # Oracle SE2
)
_CACHE_NODES = (
    ("t3.micro", 0.017), ("t3.small", 0.034), ("t3.medium", 0.068), ("t4g.medium", 0.065), ("m5.large", 0.156),
    ("m6g.large", 0.149), ("m6g.xlarge", 0.298), ("r5.large", 0.216), ("r6g.large", 0.206), ("r6g.xlarge", 0.411),
    ("r6g.2xlarge", 0.821), ("r7g.large", 0.219),
)  # fmt: skip
_ML_INSTANCES = (
    ("t3.medium", 0.05), ("m5.large", 0.115), ("m5.xlarge", 0.23), ("c5.xlarge", 0.204), ("g4dn.xlarge", 0.736),
    ("p3.2xlarge", 3.825), ("g5.2xlarge", 1.515),
)  # fmt: skip
_ML_USES = (
    ("Notebk", "RunInstance:Notebook", 1), ("Host", "RunInstance:Hosting", 1), ("Train", "CreateTrainingJob", 0.5),
    ("Processing", "CreateProcessingJob", 0.3),
)  # fmt: skip
_SEARCH_INSTANCES = (
    ("t3.medium", 0.073), ("m6g.large", 0.128), ("m6g.xlarge", 0.256), ("r6g.large", 0.167), ("r6g.xlarge", 0.335),
    ("r6g.2xlarge", 0.67), ("c6g.large", 0.113),
)  # fmt: skip
# CloudFront edge: usage type prefix, rate multiplier, weight
_EDGES = (
    ("US", 1.0, 1.0), ("EU", 1.0, 0.6), ("CA", 1.0, 0.1), ("JP", 1.34, 0.2), ("AP", 1.41, 0.2),
    ("AU", 1.34, 0.05), ("IN", 1.28, 0.05), ("SA", 1.31, 0.05), ("ZA", 1.29, 0.01), ("ME", 1.29, 0.01),
)  # fmt: skip

# Other usage, per product: (share of the product's lines, resource kind, region rule,
#   [(usage type, operation, unit, rate, lo, hi, SP discount, family, weight), ...])
_R_OTHER = {
    "AmazonEC2": (0.3, None, _ANY_REGION, [
        ("EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Mo", 0.08, 0.5, 40, 0, "Storage", 5, "volume"),
        ("EBS:VolumeUsage.gp2", "CreateVolume-Gp2", "GB-Mo", 0.10, 0.5, 40, 0, "Storage", 4, "volume"),
        ("EBS:VolumeUsage.piops", "CreateVolume-P-IOPS", "GB-Mo", 0.125, 1, 60, 0, "Storage", 0.6, "volume"),
        ("EBS:VolumeUsage.io2", "CreateVolume-io2", "GB-Mo", 0.125, 1, 60, 0, "Storage", 0.3, "volume"),
        ("EBS:VolumeUsage.st1", "CreateVolume-ST1", "GB-Mo", 0.045, 5, 300, 0, "Storage", 0.4, "volume"),
        ("EBS:VolumeUsage.sc1", "CreateVolume-SC1", "GB-Mo", 0.015, 5, 500, 0, "Storage", 0.3, "volume"),
        ("EBS:VolumeUsage", "CreateVolume", "GB-Mo", 0.05, 0.5, 20, 0, "Storage", 0.2, "volume"),
        ("EBS:VolumeP-IOPS.piops", "CreateVolume-P-IOPS", "IOPS-Mo", 0.065, 10, 600, 0, "System Operation", 0.5,
         "volume"),
        ("EBS:VolumeP-IOPS.gp3", "CreateVolume-Gp3", "IOPS-Mo", 0.005, 10, 500, 0, "System Operation", 1, "volume"),
        ("EBS:VolumeP-Throughput.gp3", "CreateVolume-Gp3", "GiBps-mo", 0.04, 0.1, 5, 0, "Provisioned Throughput",
         0.8, "volume"),
        ("EBS:SnapshotUsage", "CreateSnapshot", "GB-Mo", 0.05, 1, 200, 0, "Storage Snapshot", 3, "snapshot"),
        ("EBS:SnapshotArchiveStorage", "CreateSnapshot", "GB-Mo", 0.0125, 10, 500, 0, "Storage Snapshot", 0.2,
         "snapshot"),
        ("ElasticIP:IdleAddress", "AssociateAddressVPC", "Hrs", 0.005, 1, 24, 0, "IP Address", 0.5, "eip"),
        ("PublicIPv4:InUseAddress", "AssociateAddressVPC", "Hrs", 0.005, 1, 24, 0, "IP Address", 2, "eip"),
        ("CPUCredits:t3", "RunInstances", "vCPU-Hours", 0.05, 0.1, 12, 0, "CPU Credits", 1, "instance"),
        ("CPUCredits:t4g", "RunInstances", "vCPU-Hours", 0.04, 0.1, 12, 0, "CPU Credits", 0.4, "instance"),
    ]),
    "AmazonS3": (1.0, "bucket", _ANY_REGION, [
        ("TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", 0.023, 1, 400, 0, "Storage", 6),
        ("TimedStorage-SIA-ByteHrs", "StandardIAStorage", "GB-Mo", 0.0125, 1, 800, 0, "Storage", 1.5),
        ("TimedStorage-ZIA-ByteHrs", "OneZoneIAStorage", "GB-Mo", 0.01, 1, 500, 0, "Storage", 0.3),
        ("TimedStorage-GlacierByteHrs", "GlacierStorage", "GB-Mo", 0.0036, 10, 5000, 0, "Storage", 0.8),
        ("TimedStorage-GDA-ByteHrs", "DeepArchiveStorage", "GB-Mo", 0.00099, 10, 20000, 0, "Storage", 0.5),
        ("TimedStorage-INT-FA-ByteHrs", "IntelligentTieringFAStorage", "GB-Mo", 0.023, 1, 500, 0, "Storage", 1),
        ("TimedStorage-INT-IA-ByteHrs", "IntelligentTieringIAStorage", "GB-Mo", 0.0125, 1, 500, 0, "Storage", 0.8),
        ("TimedStorage-INT-AIA-ByteHrs", "IntelligentTieringAIAStorage", "GB-Mo", 0.004, 1, 1000, 0, "Storage",
         0.5),
        ("Requests-Tier1", "PutObject", "Requests", 0.000005, 1000, 500000, 0, "API Request", 4),
        ("Requests-Tier1", "ListBucket", "Requests", 0.000005, 100, 100000, 0, "API Request", 1),
        ("Requests-Tier1", "CopyObject", "Requests", 0.000005, 100, 50000, 0, "API Request", 0.3),
        ("Requests-Tier2", "GetObject", "Requests", 0.0000004, 1000, 2000000, 0, "API Request", 4),
        ("Requests-Tier2", "HeadObject", "Requests", 0.0000004, 1000, 500000, 0, "API Request", 1),
        ("Requests-SIA-Tier1", "PutObject", "Requests", 0.00001, 100, 50000, 0, "API Request", 0.5),
        ("Requests-SIA-Tier2", "GetObject", "Requests", 0.000001, 100, 100000, 0, "API Request", 0.5),
        ("Requests-GDA-Tier1", "PutObject", "Requests", 0.00005, 10, 10000, 0, "API Request", 0.2),
        ("Requests-INT-Tier1", "PutObject", "Requests", 0.000005, 100, 50000, 0, "API Request", 0.4),
        ("Requests-INT-Tier2", "GetObject", "Requests", 0.0000004, 100, 100000, 0, "API Request", 0.4),
        ("Retrieval-SIA", "GetObject", "GB", 0.01, 0.1, 50, 0, "Fee", 0.4),
        ("DataTransfer-Out-Bytes", "GetObject", "GB", 0.09, 0.1, 100, 0, "Data Transfer", 2),
        ("DataTransfer-In-Bytes", "PutObject", "GB", 0.0, 0.1, 300, 0, "Data Transfer", 1.5),
        ("C3DataTransfer-Out-Bytes", "GetObject", "GB", 0.0, 0.1, 100, 0, "Data Transfer", 0.8),
        ("Monitoring-Automation-INT", "IntAAObjectCount", "Objects", 0.0000025, 1000, 1000000, 0, "Fee", 0.3),
        ("TagStorage-TagHrs", "TagStorage", "Tag-Mo", 0.00001, 10, 10000, 0, "Tag Storage", 0.2),
    ]),
    "AmazonRDS": (0.25, "rds", _ANY_REGION, [
        ("RDS:GP2-Storage", "CreateDBInstance:0002", "GB-Mo", 0.115, 0.5, 30, 0, "Database Storage", 2),
        ("RDS:GP3-Storage", "CreateDBInstance:0014", "GB-Mo", 0.115, 0.5, 30, 0, "Database Storage", 1.5),
        ("RDS:Multi-AZ-GP2-Storage", "CreateDBInstance:0014", "GB-Mo", 0.23, 0.5, 30, 0, "Database Storage", 0.8),
        ("RDS:PIOPS-Storage", "CreateDBInstance:0002", "GB-Mo", 0.125, 1, 60, 0, "Database Storage", 0.4),
        ("RDS:PIOPS", "CreateDBInstance:0002", "IOPS-Mo", 0.1, 10, 300, 0, "Provisioned IOPS", 0.3),
        ("RDS:ChargedBackupUsage", "CreateDBInstance:0014", "GB-Mo", 0.095, 1, 100, 0, "Storage Snapshot", 1.2),
        ("Aurora:StorageUsage", "CreateDBInstance:0021", "GB-Mo", 0.1, 1, 100, 0, "Database Storage", 1),
        ("Aurora:StorageIOUsage", "CreateDBInstance:0021", "IOs", 0.0000002, 100000, 50000000, 0,
         "System Operation", 1),
        ("Aurora:BackupUsage", "CreateDBInstance:0021", "GB-Mo", 0.021, 1, 100, 0, "Storage Snapshot", 0.6),
        ("Aurora:ServerlessV2Usage", "CreateDBInstance:0021", "ACU-Hr", 0.12, 0.5, 48, 0, "Serverless", 0.5),
    ]),
    "AWSLambda": (1.0, "lambda", _ANY_REGION, [
        ("Lambda-GB-Second", "Invoke", "Lambda-GB-Second", 0.0000166667, 1000, 300000, 0.17, "Serverless", 4),
        ("Lambda-GB-Second-ARM", "Invoke", "Lambda-GB-Second", 0.0000133334, 1000, 300000, 0.17, "Serverless", 1.5),
        ("Request", "Invoke", "Requests", 0.0000002, 10000, 3000000, 0, "Serverless", 2),
        ("Request-ARM", "Invoke", "Requests", 0.0000002, 10000, 3000000, 0, "Serverless", 0.8),
        ("Lambda-Provisioned-Concurrency", "Invoke", "Lambda-GB-Second", 0.0000041667, 10000, 1000000, 0.17,
         "Serverless", 0.3),
        ("Lambda-Provisioned-GB-Second", "Invoke", "Lambda-GB-Second", 0.0000097222, 1000, 300000, 0.17,
         "Serverless", 0.3),
        ("Lambda-Streaming-Response-Processed-Bytes", "Invoke", "GB", 0.008, 0.1, 10, 0, "Serverless", 0.1),
    ]),
    "AmazonCloudWatch": (1.0, None, _ANY_REGION, [
        ("CW:MetricMonitorUsage", "MetricStorage", "Metrics", 0.01, 5, 500, 0, "Metric", 3, None),
        ("CW:Requests", "PutMetricData", "Requests", 0.00001, 1000, 1000000, 0, "API Request", 1.5, None),
        ("CW:GMD-Metrics", "GetMetricData", "Metrics", 0.00001, 1000, 1000000, 0, "API Request", 1, None),
        ("DataProcessing-Bytes", "PutLogEvents", "GB", 0.5, 0.05, 20, 0, "Data Payload", 4, "loggroup"),
        ("TimedStorage-ByteHrs", "HourlyStorageMetering", "GB-Mo", 0.03, 1, 200, 0, "Storage Snapshot", 3,
         "loggroup"),
        ("VendedLog-Bytes", "PutLogEvents", "GB", 0.5, 0.05, 20, 0, "Data Payload", 1, "loggroup"),
        ("DataScanned-Bytes", "StartQuery", "GB", 0.005, 1, 500, 0, "Data Payload", 0.5, "loggroup"),
        ("CW:AlarmMonitorUsage", "Unknown", "Alarms", 0.1, 1, 50, 0, "Alarm", 1.5, "alarm"),
        ("CW:DashboardsUsageHour-Basic", "DashboardHour", "Dashboards", 0.004, 1, 24, 0, "Dashboard", 0.3, None),
    ]),
    "AWSDataTransfer": (0.6, None, _ANY_REGION, [
        ("DataTransfer-Out-Bytes", "RunInstances", "GB", 0.09, 0.1, 150, 0, "Data Transfer", 3),
        ("DataTransfer-In-Bytes", "RunInstances", "GB", 0.0, 0.1, 300, 0, "Data Transfer", 2),
        ("DataTransfer-Regional-Bytes", "InterZone-In", "GB", 0.01, 1, 400, 0, "Data Transfer", 2),
        ("DataTransfer-Regional-Bytes", "InterZone-Out", "GB", 0.01, 1, 400, 0, "Data Transfer", 2),
        ("DataTransfer-Regional-Bytes", "PublicIP-In", "GB", 0.01, 0.1, 100, 0, "Data Transfer", 0.5),
        ("DataTransfer-Regional-Bytes", "PublicIP-Out", "GB", 0.01, 0.1, 100, 0, "Data Transfer", 0.5),
        ("CloudFront-Out-Bytes", "RunInstances", "GB", 0.0, 0.1, 100, 0, "Data Transfer", 0.3),
    ]),
    "AmazonDynamoDB": (1.0, "table", _ANY_REGION, [
        ("ReadCapacityUnit-Hrs", "CommittedThroughput", "ReadCapacityUnit-Hrs", 0.00013, 100, 40000, 0,
         "Provisioned IOPS", 1.5),
        ("WriteCapacityUnit-Hrs", "CommittedThroughput", "WriteCapacityUnit-Hrs", 0.00065, 100, 20000, 0,
         "Provisioned IOPS", 1.5),
        ("ReadRequestUnits", "PayPerRequestThroughput", "ReadRequestUnits", 0.00000025, 10000, 10000000, 0,
         "Amazon DynamoDB PayPerRequest Throughput", 2),
        ("WriteRequestUnits", "PayPerRequestThroughput", "WriteRequestUnits", 0.00000125, 10000, 5000000, 0,
         "Amazon DynamoDB PayPerRequest Throughput", 2),
        ("TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", 0.25, 0.1, 50, 0, "Database Storage", 2),
        ("TimedPITRStorage-ByteHrs", "TimedPITRStorage", "GB-Mo", 0.2, 0.1, 50, 0, "Storage Snapshot", 0.8),
        ("TimedBackupStorage-ByteHrs", "TimedBackupStorage", "GB-Mo", 0.1, 0.1, 50, 0, "Storage Snapshot", 0.5),
        ("IA-TimedStorage-ByteHrs", "StandardIAStorage", "GB-Mo", 0.1, 0.1, 50, 0, "Database Storage", 0.3),
        ("ReplWriteCapacityUnit-Hrs", "CommittedThroughput", "ReplWriteCapacityUnit-Hrs", 0.000975, 100, 20000, 0,
         "Provisioned IOPS", 0.2),
        ("Streams-Requests", "GetRecords", "Requests", 0.0000002, 1000, 1000000, 0, "API Request", 0.3),
    ]),
    "AmazonECS": (1.0, "task", _ANY_REGION, [
        ("Fargate-vCPU-Hours:perCPU", "FargateTask", "hours", 0.04048, 1, 96, 0.2, "Compute", 3),
        ("Fargate-GB-Hours", "FargateTask", "hours", 0.004445, 2, 400, 0.2, "Compute", 2.5),
        ("Fargate-ARM-vCPU-Hours:perCPU", "FargateTask", "hours", 0.03238, 1, 96, 0.2, "Compute", 0.8),
        ("Fargate-ARM-GB-Hours", "FargateTask", "hours", 0.00356, 2, 400, 0.2, "Compute", 0.7),
        ("Fargate-EphemeralStorage-GB-Hours", "FargateTask", "GB-Hours", 0.000111, 20, 2000, 0, "Compute", 0.6),
        ("Fargate-Windows-vCPU-Hours:perCPU", "FargateTask", "hours", 0.09148, 1, 96, 0.15, "Compute", 0.1),
        ("Fargate-Windows-OS-Hours:perCPU", "FargateTask", "hours", 0.046, 1, 96, 0, "Compute", 0.1),
    ]),
    "AmazonVPC": (1.0, None, _ANY_REGION, [
        ("NatGateway-Hours", "NatGateway", "Hrs", 0.045, 1, 24, 0, "NAT Gateway", 2, "nat"),
        ("NatGateway-Bytes", "NatGateway", "GB", 0.045, 0.1, 200, 0, "NAT Gateway", 2, "nat"),
        ("VpcEndpoint-Hours", "VpcEndpoint", "Hrs", 0.01, 1, 24, 0, "VpcEndpoint", 1.5, "vpce"),
        ("VpcEndpoint-Bytes", "VpcEndpoint", "GB", 0.01, 0.1, 200, 0, "VpcEndpoint", 1.2, "vpce"),
        ("TransitGateway-Hours", "TransitGatewayVPC", "Hrs", 0.05, 1, 24, 0, "Transit Gateway", 0.4, "tgw"),
        ("TransitGateway-Bytes", "TransitGatewayVPC", "GB", 0.02, 1, 500, 0, "Transit Gateway", 0.4, "tgw"),
        ("VPN-Usage-Hours:ipsec.1", "CreateVpnConnection", "Hrs", 0.05, 1, 24, 0, "Cloud Connectivity", 0.2, "vpn"),
        ("PublicIPv4:IdleAddress", "IdleAddress", "Hrs", 0.005, 1, 24, 0, "VPC Public IPv4 Address", 0.5, "eip"),
    ]),
    "AmazonEKS": (1.0, "eks", _ANY_REGION, [
        ("AmazonEKS-Hours:perCluster", "CreateOperation", "Hours", 0.1, 1, 24, 0, "Compute", 1.5),
        ("AmazonEKS-Hours:extendedSupport", "ExtendedSupport", "Hours", 0.5, 1, 24, 0, "Compute", 0.1),
    ]),
    "AmazonElastiCache": (0.15, "cache", _ANY_REGION, [
        ("ElastiCache:BackupUsage", "CreateSnapshot", "GB-Mo", 0.085, 0.5, 50, 0, "Storage Snapshot", 0.5),
        ("ElastiCache:ServerlessStorage", "CreateCacheCluster:0002", "GB-Hrs", 0.125, 1, 240, 0, "Serverless", 0.3),
    ]),
    "AmazonRedshift": (1.0, "redshift", _ANY_REGION, [
        ("Node:dc2.large", "RunComputeNode:0001", "Hrs", 0.25, 1, 24, 0, "Compute Instance", 1),
        ("Node:ra3.xlplus", "RunComputeNode:0001", "Hrs", 1.086, 1, 24, 0, "Compute Instance", 0.8),
        ("Node:ra3.4xlarge", "RunComputeNode:0001", "Hrs", 3.26, 1, 24, 0, "Compute Instance", 0.5),
        ("Node:ra3.16xlarge", "RunComputeNode:0001", "Hrs", 13.04, 1, 24, 0, "Compute Instance", 0.1),
        ("RMS:GB-Mo", "RMS", "GB-Mo", 0.024, 10, 2000, 0, "Redshift Managed Storage", 0.8),
        ("Redshift:ServerlessUsage", "Usage", "RPU-Hr", 0.375, 1, 200, 0, "Serverless", 0.4),
    ]),
    "AmazonSNS": (1.0, "topic", _ANY_REGION, [
        ("Requests-Tier1", "Publish", "Requests", 0.0000005, 10000, 10000000, 0, "API Request", 1.5),
        ("DeliveryAttempts-HTTP", "Notification", "Notifications", 0.0000006, 1000, 1000000, 0, "Message Delivery",
         0.8),
        ("DeliveryAttempts-SQS", "Notification", "Notifications", 0.0, 1000, 1000000, 0, "Message Delivery", 0.8),
        ("DeliveryAttempts-SMTP", "Notification", "Notifications", 0.00002, 10, 10000, 0, "Message Delivery", 0.2),
    ]),
    "AWSQueueService": (1.0, "queue", _ANY_REGION, [
        ("Requests-RBP", "SendMessage", "Requests", 0.0000004, 10000, 10000000, 0, "API Request", 2),
        ("Requests-RBP", "ReceiveMessage", "Requests", 0.0000004, 10000, 10000000, 0, "API Request", 1.5),
        ("Requests-FIFO-RBP", "SendMessage", "Requests", 0.0000005, 1000, 1000000, 0, "API Request", 0.6),
    ]),
    "AWSGlue": (1.0, None, _ANY_REGION, [
        ("ETL-DPU-Hour", "Jobrun", "DPU-Hour", 0.44, 0.1, 50, 0, "AWS Glue", 1, "glue"),
        ("ETL-Flex-DPU-Hour", "Jobrun", "DPU-Hour", 0.29, 0.1, 50, 0, "AWS Glue", 0.3, "glue"),
        ("Crawler-DPU-Hour", "CrawlerRun", "DPU-Hour", 0.44, 0.1, 5, 0, "AWS Glue", 0.8, None),
        ("Catalog-Request", "Request", "Requests", 0.000001, 1000, 1000000, 0, "AWS Glue", 0.8, None),
        ("Catalog-Storage", "Storage", "Obj-Month", 0.00001, 1000, 1000000, 0, "AWS Glue", 0.5, None),
    ]),
    "AmazonAthena": (1.0, "workgroup", _ANY_REGION, [
        ("DataScannedInTB", "RunQuery", "Terabytes", 5.0, 0.001, 2, 0, "Serverless", 1.5),
    ]),
    "AmazonKinesis": (1.0, "stream", _ANY_REGION, [
        ("Storage-ShardHour", "shardHourStorage", "ShardHour", 0.015, 1, 240, 0, "Kinesis Streams", 1),
        ("PutRequestPayloadUnits", "PutRecord", "PutRequestPayloadUnits", 0.000000014, 100000, 100000000, 0,
         "Kinesis Streams", 1),
        ("ExtendedRetention-ShardHour", "shardHourStorage", "ShardHour", 0.02, 1, 240, 0, "Kinesis Streams", 0.3),
        ("OnDemand-StreamHour", "OnDemandStreamHr", "StreamHour", 0.04, 1, 24, 0, "Kinesis Streams", 0.4),
        ("OnDemand-BilledIncomingBytes", "OnDemandDataIngest", "GB", 0.08, 0.1, 100, 0, "Kinesis Streams", 0.4),
    ]),
    "AmazonEFS": (1.0, "efs", _ANY_REGION, [
        ("TimedStorage-ByteHrs", "", "GB-Mo", 0.3, 0.5, 100, 0, "Storage", 1.2),
        ("IATimedStorage-ByteHrs", "", "GB-Mo", 0.025, 0.5, 500, 0, "Storage", 0.5),
        ("ProvisionedTP-MiBpsHrs", "", "MiBps-Mo", 6.0, 0.01, 1, 0, "Provisioned Throughput", 0.1),
        ("ElasticThroughput-Read-Bytes", "", "GB", 0.03, 0.1, 200, 0, "Storage", 0.4),
    ]),
    "AmazonRoute53": (1.0, "zone", _GLOBAL, [
        ("HostedZone", "", "HostedZone", 0.5, 0.03, 0.04, 0, "DNS Zone", 2),
        ("DNS-Queries", "", "Queries", 0.0000004, 10000, 10000000, 0, "DNS Query", 2),
        ("Health-Check-AWS", "", "Health-Check", 0.5, 0.03, 0.04, 0, "DNS Health Check", 0.4),
    ]),
    "awskms": (1.0, "key", _ANY_REGION, [
        ("KMS-Keys", "CreateKey", "Keys", 1.0, 0.03, 0.04, 0, "Encryption Key", 2),
        ("KMS-Requests", "Decrypt", "Requests", 0.000003, 1000, 1000000, 0, "Encryption Key", 1.5),
        ("KMS-Requests", "GenerateDataKey", "Requests", 0.000003, 1000, 1000000, 0, "Encryption Key", 1),
        ("KMS-Requests-Asymmetric", "Sign", "Requests", 0.000015, 100, 100000, 0, "Encryption Key", 0.2),
    ]),
    "AWSSecretsManager": (1.0, "secret", _ANY_REGION, [
        ("AWSSecretsManager-Secrets", "StorageSecret", "Secrets", 0.4, 0.03, 0.04, 0, "Secret", 2),
        ("AWSSecretsManager-APIRequest", "GetSecretValue", "API Requests", 0.000005, 100, 100000, 0, "API Request",
         1.5),
    ]),
    "AWSELB": (1.0, "lb", _ANY_REGION, [
        ("LoadBalancerUsage", "LoadBalancing:Application", "Hrs", 0.0225, 1, 24, 0, "Load Balancer-Application", 3),
        ("LCUUsage", "LoadBalancing:Application", "LCU-Hrs", 0.008, 1, 200, 0, "Load Balancer-Application", 3),
        ("LoadBalancerUsage", "LoadBalancing:Network", "Hrs", 0.0225, 1, 24, 0, "Load Balancer-Network", 1.5),
        ("LCUUsage", "LoadBalancing:Network", "LCU-Hrs", 0.006, 1, 200, 0, "Load Balancer-Network", 1.5),
        ("LoadBalancerUsage", "LoadBalancing", "Hrs", 0.025, 1, 24, 0, "Load Balancer", 0.4),
        ("DataProcessing-Bytes", "LoadBalancing", "GB", 0.008, 0.1, 200, 0, "Load Balancer", 0.4),
        ("LoadBalancerUsage", "LoadBalancing:Gateway", "Hrs", 0.0125, 1, 24, 0, "Load Balancer-Gateway", 0.1),
    ]),
    "AmazonSageMaker": (0.1, "sagemaker", _ANY_REGION, [
        ("Host:VolumeUsage.gp2", "RunInstance", "GB-Mo", 0.14, 1, 50, 0, "ML Storage", 1),
    ]),
    "AmazonES": (0.2, "domain", _ANY_REGION, [
        ("ES:GP3-Storage", "ESDomain", "GB-Mo", 0.122, 1, 100, 0, "Elastic Search Volume", 1),
        ("ES:GP2-Storage", "ESDomain", "GB-Mo", 0.135, 1, 100, 0, "Elastic Search Volume", 0.5),
    ]),
    "AWSCloudTrail": (1.0, "trail", _ANY_REGION, [
        ("PaidEventsRecorded", "None", "Events", 0.00002, 1000, 1000000, 0, "Management Tools - AWS CloudTrail",
         0.8),
        ("DataEventsRecorded", "None", "Events", 0.000001, 1000, 10000000, 0, "Management Tools - AWS CloudTrail",
         0.6),
        ("FreeEventsRecorded", "None", "Events", 0.0, 1000, 1000000, 0, "Management Tools - AWS CloudTrail", 1),
    ]),
    "AmazonGuardDuty": (1.0, "detector", _ANY_REGION, [
        ("PaidEventsAnalyzed", "CloudTrailEvents", "Events", 0.000004, 10000, 1000000, 0, "Security Services", 1),
        ("PaidS3DataEventsAnalyzed", "S3DataEvents", "Events", 0.0000008, 10000, 10000000, 0, "Security Services",
         0.6),
        ("PaidFlowLogsAnalyzed", "VPCFlowLogs", "GB", 1.0, 0.01, 5, 0, "Security Services", 0.8),
        ("PaidDNSLogsAnalyzed", "DNSLogs", "GB", 1.0, 0.01, 2, 0, "Security Services", 0.5),
    ]),
    "AWSConfig": (1.0, None, _ANY_REGION, [
        ("ConfigurationItemRecorded", "None", "ConfigurationItemRecorded", 0.003, 10, 5000, 0,
         "Management Tools - AWS Config", 1.2),
        ("ConfigRuleEvaluations", "ConfigRuleEvaluations", "ConfigRuleEvaluations", 0.001, 100, 10000, 0,
         "Management Tools - AWS Config Rules", 0.8),
    ]),
    "AmazonApiGateway": (1.0, "api", _ANY_REGION, [
        ("ApiGatewayRequest", "ApiGatewayRequest", "Requests", 0.0000035, 1000, 1000000, 0, "API Calls", 1.2),
        ("ApiGatewayHttpRequest", "ApiGatewayHttpApi", "Requests", 0.000001, 1000, 1000000, 0, "API Calls", 1),
        ("ApiGatewayMessage", "ApiGatewayWebSocket", "Messages", 0.000001, 1000, 1000000, 0, "WebSocket", 0.2),
    ]),
    "AWSBackup": (1.0, "vault", _ANY_REGION, [
        ("WarmStorage-ByteHrs-EBS", "Storage", "GB-Mo", 0.05, 1, 500, 0, "AWS Backup Storage", 1),
        ("WarmStorage-ByteHrs-EFS", "Storage", "GB-Mo", 0.05, 1, 500, 0, "AWS Backup Storage", 0.4),
        ("WarmStorage-ByteHrs-RDS", "Storage", "GB-Mo", 0.095, 1, 500, 0, "AWS Backup Storage", 0.4),
        ("ColdStorage-ByteHrs-EFS", "Storage", "GB-Mo", 0.01, 1, 500, 0, "AWS Backup Storage", 0.1),
        ("WarmStorage-ByteHrs-DynamoDB", "Storage", "GB-Mo", 0.1, 1, 500, 0, "AWS Backup Storage", 0.2),
    ]),
    "AmazonECR": (1.0, "repository", _ANY_REGION, [
        ("TimedStorage-ByteHrs", "", "GB-Mo", 0.1, 0.1, 50, 0, "EC2 Container Registry", 1.5),
    ]),
    "AmazonStates": (1.0, "statemachine", _ANY_REGION, [
        ("StateTransition", "StartExecution", "StateTransitions", 0.000025, 100, 100000, 0, "AWS Step Functions",
         0.8),
        ("ExpressRequest", "StartExecution", "Requests", 0.000001, 100, 100000, 0, "AWS Step Functions", 0.3),
    ]),
}  # fmt: skip

# share of the usage lines per product (before each account's own mix)
_R_PRODUCT_WEIGHTS = {
    "AmazonEC2": 24, "AmazonS3": 12, "AmazonRDS": 6, "AWSLambda": 4, "AmazonCloudWatch": 7, "AWSDataTransfer": 8,
    "AmazonDynamoDB": 3, "AmazonECS": 3, "AmazonVPC": 4, "AmazonEKS": 0.8, "AmazonElastiCache": 1.5,
    "AmazonRedshift": 0.6, "AmazonSNS": 1.5, "AWSQueueService": 2, "AWSGlue": 1, "AmazonAthena": 0.6,
    "AmazonKinesis": 0.8, "AmazonEFS": 1, "AmazonRoute53": 1.5, "awskms": 2.5, "AWSSecretsManager": 2,
    "AmazonCloudFront": 1.5, "AWSELB": 3, "AmazonSageMaker": 0.6, "AmazonES": 0.6, "AWSCloudTrail": 1,
    "AmazonGuardDuty": 1, "AWSConfig": 1, "AmazonApiGateway": 1, "AWSBackup": 0.8, "AmazonECR": 1,
    "AmazonStates": 0.5,
}  # fmt: skip


@functools.cache
def _realistic_kinds() -> tuple[_Kind, ...]:
    """The usage kinds of the realistic shape (~1,600), weights summing to 1 over the whole catalogue."""
    regional: list[tuple[str, list[_Kind]]] = []  # (product, kinds)

    def group(product: str, kinds: list[_Kind], share: float = 1.0) -> None:
        total = sum(k.weight for k in kinds)
        scaled = [dataclasses.replace(k, weight=k.weight / total * share) for k in kinds]
        regional.append((product, scaled))

    # EC2 instances (70 % of EC2), other EC2 usage (30 %)
    box = []
    for family, rate, sizes, fw in _EC2_FAMILIES:
        for size in sizes.split():
            mult, sw = _EC2_SIZES[size]
            itype = f"{family}.{size}"
            for prefix, op, om, ow, sp in _EC2_OPTIONS:
                box.append(
                    _Kind("AmazonEC2", f"{prefix}:{itype}", op, "Hrs", round(rate * mult * om, 6), 1, 24, sp, itype,
                          "Compute Instance", "instance", fw * sw * ow)
                )  # fmt: skip
    group("AmazonEC2", box, 0.7)
    rds = []
    for cls, rate, cw in _RDS_CLASSES:
        for op, em, ew in _RDS_ENGINES:
            for prefix, am, aw in (("InstanceUsage", 1, 1), ("Multi-AZUsage", 2, 0.4)):
                rds.append(
                    _Kind("AmazonRDS", f"{prefix}:db.{cls}", op, "Hrs", round(rate * em * am, 6), 1, 24, 0, f"db.{cls}",
                          "Database Instance", "rds", cw * ew * aw)
                )  # fmt: skip
    group("AmazonRDS", rds, 0.75)
    cache = []
    for node, rate in _CACHE_NODES:
        for op, em, ew in (("CreateCacheCluster:0002", 1, 1), ("CreateCacheCluster:0001", 1, 0.3),
                           ("CreateCacheCluster:0004", 0.8, 0.2)):  # fmt: skip
            cache.append(
                _Kind("AmazonElastiCache", f"NodeUsage:cache.{node}", op, "NodeUsage", round(rate * em, 6), 1, 24, 0,
                      f"cache.{node}", "Cache Instance", "cache", ew)
            )  # fmt: skip
    group("AmazonElastiCache", cache, 0.85)
    ml = []
    for itype, rate in _ML_INSTANCES:
        for prefix, op, w in _ML_USES:
            ml.append(
                _Kind("AmazonSageMaker", f"{prefix}:ml.{itype}", op, "Hrs", rate, 1, 24, 0, f"ml.{itype}",
                      "ML Instance", "sagemaker", w)
            )  # fmt: skip
    group("AmazonSageMaker", ml, 0.9)
    search = [
        _Kind("AmazonES", f"ESInstance:{itype}.search", "ESDomain", "Hrs", rate, 1, 24, 0, f"{itype}.search",
              "Amazon OpenSearch Service Instance", "domain", 1)
        for itype, rate in _SEARCH_INSTANCES
    ]  # fmt: skip
    group("AmazonES", search, 0.8)
    for product, (share, resource, region, rows) in _R_OTHER.items():
        kinds = []
        for row in rows:
            usage_type, op, unit, rate, lo, hi, sp, family, w = row[:9]
            res = row[9] if len(row) > 9 else resource
            kinds.append(
                _Kind(product, usage_type, op, unit, rate, lo, hi, sp, "", family, res or "none", w, region)
            )  # fmt: skip
        group(product, kinds, share)
    # inter-region data transfer: one usage type per (source, destination) region and direction
    region_w = np.array([r[4] for r in _R_REGIONS])
    inter = []
    for s, src in enumerate(_R_REGIONS):
        for d, dst in enumerate(_R_REGIONS):
            if s != d:
                w = float(region_w[d] / (1 - region_w[s]))
                inter.append(
                    _Kind("AWSDataTransfer", f"{src[5]}-{dst[5]}-AWS-Out-Bytes", "InterRegion-Out", "GB", 0.02, 0.1,
                          200, 0, "", "Data Transfer", "none", w, s)
                )  # fmt: skip
                inter.append(
                    _Kind("AWSDataTransfer", f"{src[5]}-{dst[5]}-AWS-In-Bytes", "InterRegion-In", "GB", 0.0, 0.1,
                          200, 0, "", "Data Transfer", "none", w * 0.6, s)
                )  # fmt: skip
    group("AWSDataTransfer", inter, 0.4)
    edge = []
    for prefix, mult, w in _EDGES:
        for usage_type, op, unit, rate, lo, hi, ww in (
            ("DataTransfer-Out-Bytes", "GET", "GB", 0.085, 0.1, 500, 1),
            ("Requests-Tier1", "GET", "Requests", 0.0000075, 10000, 10000000, 1),
            ("Requests-Tier2-HTTPS", "GET", "Requests", 0.00001, 10000, 10000000, 1),
            ("DataTransfer-Out-OBytes", "GET", "GB", 0.02, 0.1, 100, 0.5),
        ):
            edge.append(
                _Kind("AmazonCloudFront", f"{prefix}-{usage_type}", op, unit, round(rate * mult, 10), lo, hi, 0, "",
                      "Data Transfer", "distribution", w * ww, _GLOBAL)
            )  # fmt: skip
    group("AmazonCloudFront", edge)
    # product shares
    shares: dict[str, float] = {}
    for product, kinds in regional:
        shares[product] = shares.get(product, 0.0) + sum(k.weight for k in kinds)
    total = sum(_R_PRODUCT_WEIGHTS.values())
    out = []
    for product, kinds in regional:
        f = _R_PRODUCT_WEIGHTS[product] / total / shares[product]
        out.extend(dataclasses.replace(k, weight=k.weight * f) for k in kinds)
    return tuple(out)


@dataclass(frozen=True)
class _Pairs:
    """Every (usage kind, region) a realistic account can use, as columns."""

    kind: np.ndarray  # index into _realistic_kinds()
    region: np.ndarray  # index into _R_REGIONS; len(_R_REGIONS) = global (no region)
    product: np.ndarray  # index into _R_USAGE_PRODUCTS
    resource: np.ndarray  # index into _R_RESOURCE_KINDS; -1: no resource
    weight: np.ndarray
    rate: np.ndarray
    sp_rate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    usage_type: list[str]
    operation: list[str]
    region_code: list[str]
    location: list[str]
    unit: list[str]
    instance_type: list[str]
    family: list[str]
    product_code: list[str]
    descriptions: list[tuple[str, str, str]]  # usage, SP covered, RI applied
    sku: list[str]
    by_region: list[np.ndarray]  # pairs of each region (and, last, of the global services), ascending

    def find(self, product: str, usage_type: str, operation: str, region: int) -> int:
        """Index of the pair of a regional kind (usage type without the region prefix) in region `region`."""
        kinds = _realistic_kinds()
        for i in np.flatnonzero(self.region == region):
            kind = kinds[self.kind[i]]
            if (kind.product, kind.usage_type, kind.operation) == (product, usage_type, operation):
                return int(i)
        raise KeyError((product, usage_type, operation, region))


_R_RESOURCE_KINDS = tuple(_R_RESOURCES)
# realistic shape tuning: see _PayerGenerator._realistic_usage
_R_ACCOUNT_SIGMA = 1.0  # lognormal spread of the accounts' lines
_R_PRODUCT_SIGMA = 1.0  # lognormal spread of an account's liking of each product
_R_REGION_CONCENTRATION = 2.0  # Dirichlet concentration of an account's regions (small: few regions)
_R_LINES_PER_SLOT = 25  # an account has one (usage kind, region) per this many usage lines a day
_R_MIN_SLOTS, _R_MAX_SLOTS = 6, 2500
_R_WEIGHT_POWER = 0.5  # an account's lines over its slots: weight ** power (< 1 flattens the tail)
_R_LINES_PER_RESOURCE = 6  # expected usage lines a day per resource


@functools.cache
def _realistic_pairs() -> _Pairs:
    kinds = _realistic_kinds()
    n_regions = len(_R_REGIONS)
    product_index = {p: k for k, p in enumerate(_R_USAGE_PRODUCTS)}
    resource_index = {r: k for k, r in enumerate(_R_RESOURCE_KINDS)}
    rows = []
    for k, kind in enumerate(kinds):
        if kind.region == _GLOBAL:
            regions = [n_regions]
        elif kind.region == _ANY_REGION:
            regions = range(n_regions)
        else:
            regions = [kind.region]
        rows.extend((k, r) for r in regions)
    kind_idx = np.array([k for k, _r in rows], dtype=np.int64)
    region_idx = np.array([r for _k, r in rows], dtype=np.int64)
    cols: dict[str, list] = {name: [] for name in ("usage_type", "region_code", "location", "rate", "sp_rate")}
    descriptions, skus = [], []
    for k, r in rows:
        kind = kinds[k]
        if r == n_regions:
            code, prefix, location, mult = "", "", "Global", 1.0
        else:
            code, prefix, location, mult = _R_REGIONS[r][:4]
        usage_type = kind.usage_type if kind.region >= 0 else prefix + kind.usage_type
        rate = round(kind.rate * mult, 10)
        sp_rate = round(rate * (1 - kind.sp_discount), 10) if kind.sp_discount else 0.0
        what = kind.instance_type or usage_type
        cols["usage_type"].append(usage_type)
        cols["region_code"].append(code)
        cols["location"].append(location)
        cols["rate"].append(rate)
        cols["sp_rate"].append(sp_rate)
        descriptions.append(
            (
                f"${rate:g} per {kind.unit} for {usage_type} in {location}",
                f"{what} usage covered by Compute Savings Plans in {location}",
                f"{what} reserved instance applied",
            )
        )
        skus.append(_digest("sku", usage_type, kind.operation, code).hex()[:16].upper())
    return _Pairs(
        kind=kind_idx,
        region=region_idx,
        product=np.array([product_index[kinds[k].product] for k in kind_idx], dtype=np.int64),
        resource=np.array([resource_index.get(kinds[k].resource, -1) for k in kind_idx], dtype=np.int64),
        weight=np.array([kinds[k].weight for k in kind_idx]),
        rate=np.array(cols["rate"]),
        sp_rate=np.array(cols["sp_rate"]),
        lo=np.array([float(kinds[k].lo) for k in kind_idx]),
        hi=np.array([float(kinds[k].hi) for k in kind_idx]),
        usage_type=cols["usage_type"],
        operation=[kinds[k].operation for k in kind_idx],
        region_code=cols["region_code"],
        location=cols["location"],
        unit=[kinds[k].unit for k in kind_idx],
        instance_type=[kinds[k].instance_type for k in kind_idx],
        family=[kinds[k].family for k in kind_idx],
        product_code=[kinds[k].product for k in kind_idx],
        descriptions=descriptions,
        sku=skus,
        by_region=[np.flatnonzero(region_idx == r) for r in range(n_regions + 1)],
    )


# --------------------------------------------------------------------------------------------
# Catalogue of line templates (one per resource line, fee, discount, tax ...)
# --------------------------------------------------------------------------------------------


@dataclass
class _Template:
    acct: int  # index into the payer's accounts (0 = payer account)
    product: str
    usage_type: str = ""
    operation: str = ""
    region: str = ""
    location: str = ""
    resource_id: str = ""
    unit: str = ""
    instance_type: str = ""
    family: str = ""
    bill_type: str = "Anniversary"
    team: str = ""
    project: str = ""
    descriptions: tuple[str, str, str, str] = ("", "", "", "")  # usage, SP covered, negation, RI applied
    rate: float = 0.0
    sp_rate: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    weight: float = 0.0


class _Catalogue:
    """A payer's line templates as columns: usage templates first, then fees, discounts, tax and credits.

    Row t of a chunk takes its account, product, usage type ... from entry t; `descriptions` holds four per
    template (usage, SP covered, negation, RI applied), so a row's description is entry 4 t + kind.
    """

    FIELDS = (
        "acct", "product", "usage_type", "operation", "region", "location", "resource_id", "unit",
        "instance_type", "family", "bill_type", "team", "project", "rate", "sp_rate", "lo", "hi", "weight",
    )  # fmt: skip

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in self.FIELDS}
        self.descriptions: list[str] = []

    def __len__(self) -> int:
        return len(self.columns["acct"])

    def __getattr__(self, name: str) -> list:
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def add(self, t: _Template) -> int:
        for name, values in self.columns.items():
            values.append(getattr(t, name))
        self.descriptions.extend(t.descriptions)
        return len(self) - 1

    def extend(self, n: int, descriptions: list[str], **columns: object) -> None:
        """Append `n` templates; a column given as a scalar is the same for all of them (default as _Template)."""
        defaults = _Template(acct=0, product="")
        for name, values in self.columns.items():
            v = columns.get(name, getattr(defaults, name))
            values.extend(v if isinstance(v, list) else [v] * n)
        self.descriptions.extend(descriptions)


@dataclass
class _SavingsPlan:
    arn: str
    owner: int
    usage_type: str
    upfront: bool
    commitment: int = 0  # units per day
    upfront_part: int = 0  # units per day
    fee_template: int = -1
    upfront_template: int = -1


@dataclass
class _Reservation:
    arn: str
    owner: int
    instance_type: str
    od_rate: float
    upfront_hourly: float
    recurring_hourly: float
    purchased: bool
    instances: int = 1
    templates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    fee_template: int = -1
    purchase_template: int = -1


# --------------------------------------------------------------------------------------------
# Per-payer generation
# --------------------------------------------------------------------------------------------


class _PayerGenerator:
    def __init__(
        self,
        *,
        out: Path,
        payer: int,
        fmt: str,
        period_start: date,
        days: int,
        accounts: int,
        shape: str,
        budget: int,
        seed: int,
        redeliver: bool,
        final: bool,
        rows_per_file: int,
        chunk_rows: int,
        bucket: str,
        progress: Callable[[str], None],
    ) -> None:
        self.out = out
        self.realistic = shape == "realistic"
        self.payer = payer
        self.fmt = fmt
        self.period_start = period_start
        self.period_end = _next_month(period_start)
        self.hours_in_month = (self.period_end - period_start).days * 24
        self.days = days
        self.n_accounts = accounts
        self.budget = budget
        self.seed = seed
        self.redeliver = redeliver
        self.rows_per_file = rows_per_file
        self.chunk_rows = chunk_rows
        self.bucket = bucket
        self.progress = progress

        self.payer_id = payer_account_id(payer)
        self.accounts = [self.payer_id] + [linked_account_id(payer, j) for j in range(1, accounts + 1)]
        self.name = report_name(self.payer_id, fmt)
        period = f"{period_start:%Y-%m}"
        # a new snapshot id whenever the delivered data differs: redelivery, more days, final, sizes ...
        self.manifest_id = _uuid(
            "manifest",
            seed,
            self.payer_id,
            period,
            int(redeliver),
            days,
            int(final),
            fmt,
            accounts,
            budget,
            rows_per_file,
            *(["realistic"] if self.realistic else []),
        )
        self.invoice_id = (
            str(
                int.from_bytes(_digest("invoice", seed, self.payer_id, period)[:8], "big") % 9_000_000_000
                + 1_000_000_000
            )
            if final
            else None
        )
        self.id_key = int.from_bytes(_digest("line-item-id", seed, self.payer_id, period)[:8], "big")
        base = [seed, payer, period_start.year, period_start.month]
        self.struct_rng = np.random.default_rng(np.random.SeedSequence([*base, 1]))
        self.amount_rng = np.random.default_rng(np.random.SeedSequence([*base, 2, int(redeliver)]))

        self.usage_products = _R_USAGE_PRODUCTS if self.realistic else _USAGE_PRODUCTS
        self.n_products = len(self.usage_products)
        self.product_index = {p: k for k, p in enumerate(self.usage_products)}
        self._plan_rows()
        self._build_catalogue()
        self._build_vocabularies()

        # accumulators (1e-8 USD), key = account index * n_products + product index
        size = len(self.accounts) * self.n_products
        self.usage_day = np.zeros(size, dtype=np.int64)
        self.usage_month = np.zeros(size, dtype=np.int64)
        self.sp_used_day = np.zeros(len(self.plans), dtype=np.int64)
        self.ri_used_day = np.zeros(len(self.ris), dtype=np.int64)  # hours
        self.ri_used_total = np.zeros(len(self.ris), dtype=np.int64)
        self.row_counter = 0
        self.type_counts = np.zeros(len(LINE_ITEM_TYPES), dtype=np.int64)
        self.unblended_units = 0
        self.amortized_units = 0
        self.next_million = 1_000_000
        self.merge_batches = self.realistic  # the small shape keeps its tables (and bytes) as they were
        self.batches: list[dict] = []
        self.batch_rows = 0

    # ---- row planning ---------------------------------------------------------------------

    def _plan_rows(self, keys: int | None = None, anchor_accounts: Sequence[int] | None = None) -> None:
        """Rows per kind and day. `keys`: (account, product) pairs with usage (default: every one);
        `anchor_accounts`: accounts using each of _ANCHOR_PRODUCTS (default: every account)."""
        a, p, d = self.n_accounts, self.n_products, self.days
        keys = a * p if keys is None else keys
        others = [a] * len(_ANCHOR_PRODUCTS) if anchor_accounts is None else list(anchor_accounts)
        # EDP on every product, the three other discounts on one product each; tax per key, credit per account
        fixed = _FIXED_ROWS + 2 * d  # + one recurring fee per plan and day
        allowance = max(0.0, _DERIVED_SHARE * self.budget - fixed)
        daily_full = (keys + sum(others)) * d + keys + a
        monthly_full = keys + sum(others) + keys + a
        if daily_full <= allowance:
            self.discount_daily = True
            self.caps = {"edp": keys, "other": a, "tax": keys, "credit": a}
            derived = daily_full
        else:
            self.discount_daily = False
            f = min(1.0, allowance / monthly_full)
            self.caps = {
                "edp": max(1, int(keys * f)),
                "other": max(1, int(a * f)),
                "tax": max(1, int(keys * f)),
                "credit": max(1, int(a * f)),
            }
            derived = (
                self.caps["edp"]
                + sum(min(self.caps["other"], n) for n in others)
                + self.caps["tax"]
                + self.caps["credit"]
            )
        # day 1 has a usage line of each anchor product (and, realistic, of each linked account)
        self.n_anchors = len(_ANCHOR_PRODUCTS) + (a if self.realistic else 0)
        bulk = max(3 + self.n_anchors, self.budget - fixed - derived)  # + covered, negation, discounted
        shared = bulk - (a if self.realistic else 0)  # what the shares apply to
        n_cov = max(1, round(_SP_COVERED_SHARE * shared))
        n_du = max(1, round(_DISCOUNTED_SHARE * shared))
        n_usage = max(0, bulk - 2 * n_cov - n_du - self.n_anchors)
        first = self.period_start
        day_w = np.array(
            [0.75 if (first + timedelta(days=i)).weekday() >= 5 else 1.0 for i in range(d)], dtype=np.float64
        )
        self.n_usage = _split(n_usage, day_w)
        self.n_cov = _split(n_cov, day_w)
        self.n_du = _split(n_du, day_w)
        self.n_cov_total = n_cov
        self.n_du_total = n_du
        per_account_day = n_usage / (a * d)
        self.resources_per_kind = int(np.clip(round(per_account_day / (len(_KINDS) * 20)), 1, 20))

    # ---- catalogue -----------------------------------------------------------------------

    def _hex(self, n: int) -> str:
        return "".join(f"{b:02x}" for b in self.struct_rng.integers(0, 256, size=(n + 1) // 2))[:n]

    def _resource_id(self, kind: str, region: str, acct: str, n: int) -> str:
        word = _WORDS[int(self.struct_rng.integers(len(_WORDS)))]
        if kind == "instance":
            return f"i-{self._hex(17)}"
        if kind == "volume":
            return f"vol-{self._hex(17)}"
        if kind == "bucket":
            return f"bf-{acct}-{word}-{n}"
        if kind == "rds":
            return f"arn:aws:rds:{region}:{acct}:db:{word}-db-{n}"
        if kind == "lambda":
            return f"arn:aws:lambda:{region}:{acct}:function:{word}-{n}"
        if kind == "loggroup":
            return f"arn:aws:logs:{region}:{acct}:log-group:/app/{word}-{n}"
        if kind == "table":
            return f"arn:aws:dynamodb:{region}:{acct}:table/{word}-{n}"
        if kind == "task":
            return f"arn:aws:ecs:{region}:{acct}:task/{word}-cluster/{self._hex(32)}"
        if kind == "nat":
            return f"arn:aws:ec2:{region}:{acct}:natgateway/nat-{self._hex(17)}"
        return ""

    def _build_catalogue(self) -> None:
        cat = _Catalogue()
        if self.realistic:
            self._realistic_usage(cat)
            # plan again with the (account, product) pairs actually in use: fewer discount, tax and credit rows
            key = np.unique(np.array(cat.acct) * self.n_products + [self.product_index[x] for x in cat.product])
            self._plan_rows(
                keys=len(key),
                anchor_accounts=[int(np.sum(key % self.n_products == self.product_index[x])) for x in _ANCHOR_PRODUCTS],
            )
        else:
            self._small_usage(cat)
        n_usage_templates = len(cat)
        weights = np.array(cat.weight)
        products = cat.product
        self.usage_ids = np.arange(n_usage_templates, dtype=np.int32)
        self.usage_p = weights / weights.sum()
        # realistic: an anchor line must cost something (the product's discount is a share of it)
        costly = [not self.realistic or rate * lo >= 0.001 for rate, lo in zip(cat.rate, cat.lo, strict=False)]
        self.anchor_ids = np.array(
            [
                max(
                    (k for k in range(n_usage_templates) if products[k] == code and costly[k]), key=lambda k: weights[k]
                )
                for code in _ANCHOR_PRODUCTS
            ],
            dtype=np.int32,
        )
        if self.realistic:
            self.anchor_ids = np.concatenate([self.anchor_ids, self.account_anchor_ids]).astype(np.int32)
        t_lo, t_hi, t_sp_rate = np.array(cat.lo), np.array(cat.hi), np.array(cat.sp_rate)
        sp_ids = np.flatnonzero(t_sp_rate > 0).astype(np.int32)
        self.sp_ids = sp_ids
        self.sp_p = weights[sp_ids] / weights[sp_ids].sum()

        # Savings plans: shared by every account of the payer; owners are linked accounts 1 and 2.
        a = self.n_accounts
        self.plans = [
            _SavingsPlan(self._sp_arn(0, 1), 1, "ComputeSP:1yrNoUpfront", upfront=False),
            _SavingsPlan(self._sp_arn(1, min(2, a)), min(2, a), "ComputeSP:1yrPartialUpfront", upfront=True),
        ]
        lo, hi, sp_rate = t_lo[sp_ids], t_hi[sp_ids], t_sp_rate[sp_ids]
        mean_eff = float(((lo + hi) / 2 * sp_rate) @ self.sp_p) * UNITS
        max_eff = int(np.ceil(float((hi * sp_rate).max()) * UNITS)) + 1
        # commitment sized to the busiest (week)day: weekdays use ~all of it, weekends ~75 %
        for k, plan in enumerate(self.plans):
            per_day = int(self.n_cov.max()) * _PLAN_WEIGHTS[k]
            plan.commitment = max(int(round(mean_eff * per_day, -3)), max_eff)
            plan.upfront_part = plan.commitment // 2 if plan.upfront else 0

        # Reserved instances (EC2 Linux, us-east-1), shared across the payer; owners: first and last account.
        self.ris = [
            _Reservation(self._ri_arn(0, 1), 1, "m5.large", 0.096, 0.03, 0.028, purchased=True),
            _Reservation(self._ri_arn(1, a), a, "c5.xlarge", 0.17, 0.0, 0.107, purchased=False),
        ]
        region, itype, operation = cat.region, cat.instance_type, cat.operation
        for k, ri in enumerate(self.ris):
            ri.templates = np.array(
                [
                    i
                    for i in range(n_usage_templates)
                    if region[i] == "us-east-1" and itype[i] == ri.instance_type and operation[i] == "RunInstances"
                ],
                dtype=np.int32,
            )
            per_day = int(self.n_du.max()) * _RI_WEIGHTS[k]
            ri.instances = max(1, round(per_day * 12.5 / 24))

        add = cat.add

        def same4(text: str) -> tuple[str, str, str, str]:
            return (text, text, text, text)

        sp_code = _SP_PRODUCT[0]
        for plan in self.plans:
            term = "No Upfront" if not plan.upfront else "Partial Upfront"
            plan.fee_template = add(
                _Template(
                    acct=plan.owner,
                    product=sp_code,
                    usage_type=plan.usage_type,
                    resource_id=plan.arn,
                    unit="Hrs",
                    descriptions=same4(f"1 year {term} Compute Savings Plan recurring fee"),
                )
            )
            if plan.upfront:
                plan.upfront_template = add(
                    _Template(
                        acct=plan.owner,
                        product=sp_code,
                        usage_type=plan.usage_type,
                        resource_id=plan.arn,
                        bill_type="Purchase",
                        descriptions=same4(f"1 year {term} Compute Savings Plan upfront fee"),
                    )
                )
        for ri in self.ris:
            common = dict(
                acct=ri.owner,
                product="AmazonEC2",
                usage_type=f"HeavyUsage:{ri.instance_type}",
                operation="RunInstances",
                region="us-east-1",
                location=_REGIONS[0][2],
                unit="Hrs",
                instance_type=ri.instance_type,
                family="Compute Instance",
            )
            ri.fee_template = add(
                _Template(
                    **common,
                    descriptions=same4(
                        f"USD {ri.recurring_hourly:g} hourly fee per Linux/UNIX (Amazon VPC), "
                        f"{ri.instance_type} reserved instance"
                    ),
                )
            )
            if ri.purchased:
                sub = int.from_bytes(_digest("subscription", ri.arn)[:4], "big")
                ri.purchase_template = add(
                    _Template(
                        **common,
                        bill_type="Purchase",
                        descriptions=same4(f"Sign up charge for subscription: {sub}, planId: {sub % 100000}"),
                    )
                )
        self.support_template = add(
            _Template(
                acct=0,
                product=_SUPPORT_PRODUCT[0],
                usage_type="Dollar",
                unit="Dollar",
                descriptions=same4("AWS Support (Business)"),
            )
        )
        self.refund_sp_template = add(
            _Template(
                acct=self.plans[0].owner,
                product=sp_code,
                usage_type=self.plans[0].usage_type,
                bill_type="Refund",
                descriptions=same4("Refund of Savings Plan recurring fee"),
            )
        )
        self.refund_usage_template = add(
            _Template(
                acct=1,
                product="AmazonEC2",
                usage_type="BoxUsage:m5.large",
                operation="RunInstances",
                region="us-east-1",
                location=_REGIONS[0][2],
                bill_type="Refund",
                descriptions=same4("Refund for service interruption (AmazonEC2)"),
            )
        )
        # discounts, tax and credits per (account, product); the realistic shape only for products in use
        n_keys = len(self.accounts) * self.n_products
        used = np.ones(n_keys, dtype=bool)
        if self.realistic:
            used[:] = False
            acct = np.array(cat.acct[:n_usage_templates], dtype=np.int64)
            used[acct * self.n_products + np.array([self.product_index[x] for x in products[:n_usage_templates]])] = (
                True
            )
        in_use = [
            (j * self.n_products + p, j, code)
            for j in range(1, len(self.accounts))
            for p, code in enumerate(self.usage_products)
            if used[j * self.n_products + p]
        ]
        self.discount_templates = {}
        for lit, product, _rate, text, _key in _DISCOUNTS:
            ids = np.full(n_keys, -1, dtype=np.int32)
            keys = [x for x in in_use if product is None or product == x[2]]
            ids[[key for key, _j, _code in keys]] = np.arange(len(cat), len(cat) + len(keys))
            cat.extend(
                len(keys),
                [text] * (4 * len(keys)),
                acct=[j for _key, j, _code in keys],
                product=[code for _key, _j, code in keys],
            )
            self.discount_templates[lit] = ids
        # tax and credit templates alternate: (key 1 tax, key 1 credit, key 2 tax ...)
        self.tax_templates = np.full(n_keys, -1, dtype=np.int32)
        self.credit_templates = np.full(n_keys, -1, dtype=np.int32)
        at = np.array([key for key, _j, _code in in_use], dtype=np.int64)
        self.tax_templates[at] = np.arange(len(cat), len(cat) + 2 * len(in_use), 2)
        self.credit_templates[at] = np.arange(len(cat) + 1, len(cat) + 2 * len(in_use), 2)
        cat.extend(
            2 * len(in_use),
            [text for _key, _j, code in in_use for text in [f"Tax for product code {code}"] * 4 + [_CREDIT_TEXT] * 4],
            acct=[j for _key, j, _code in in_use for _ in (0, 1)],
            product=[code for _key, _j, code in in_use for _ in (0, 1)],
            usage_type=["Tax", ""] * len(in_use),
        )
        self.cat = cat

        self.t_acct = np.array(cat.acct, dtype=np.int64)
        self.t_product = np.array([self.product_index.get(x, -1) for x in cat.product], dtype=np.int64)
        self.t_rate = np.array(cat.rate)
        self.t_sp_rate = np.array(cat.sp_rate)
        self.t_lo = np.array(cat.lo)
        self.t_span = np.array(cat.hi) - self.t_lo
        # realistic: usage lines name one of the resources pool_resources[res_start : res_start + res_count]
        self.t_res_start = np.zeros(len(cat), dtype=np.int64)
        self.t_res_count = np.zeros(len(cat), dtype=np.int64)
        if self.realistic:
            self.t_res_start[:n_usage_templates] = self.slot_res_start + len(cat)
            self.t_res_count[:n_usage_templates] = self.slot_res_count

    def _small_usage(self, cat: _Catalogue) -> None:
        """Usage templates of the small shape: every account x kind x `resources_per_kind` resources."""
        rng = self.struct_rng
        region_w = np.array([r[4] for r in _REGIONS])
        region_w = region_w / region_w.sum()
        acct_w = rng.lognormal(0.0, 0.6, size=self.n_accounts)
        r = self.resources_per_kind
        for j in range(1, self.n_accounts + 1):
            acct = self.accounts[j]
            for kind in _KINDS:
                for n in range(r):
                    if n == 0 and kind.usage_type in ("BoxUsage:m5.large", "BoxUsage:c5.xlarge"):
                        reg = 0  # RI-coverable usage exists in us-east-1 for every account
                    else:
                        reg = int(rng.choice(len(_REGIONS), p=region_w))
                    code, prefix, location, mult, _w = _REGIONS[reg]
                    usage_type = prefix + kind.usage_type
                    rate = round(kind.rate * mult, 10)
                    sp_rate = round(rate * (1 - kind.sp_discount), 10) if kind.sp_discount else 0.0
                    sku = self._hex(16).upper()
                    team = _TEAMS[int(rng.integers(len(_TEAMS)))] if rng.random() > 0.25 else ""
                    project = _PROJECTS[int(rng.integers(len(_PROJECTS)))] if rng.random() > 0.35 else ""
                    what = kind.instance_type or kind.usage_type
                    cat.add(
                        _Template(
                            acct=j,
                            product=kind.product,
                            usage_type=usage_type,
                            operation=kind.operation,
                            region=code,
                            location=location,
                            resource_id=self._resource_id(kind.resource, code, acct, n + 1),
                            unit=kind.unit,
                            instance_type=kind.instance_type,
                            family=kind.family,
                            team=team,
                            project=project,
                            descriptions=(
                                f"${rate:g} per {kind.unit} for {usage_type} in {location}",
                                f"{what} usage covered by Compute Savings Plans in {location}",
                                f"SavingsPlanNegation used by AccountId : {acct} and UsageSku : {sku}",
                                f"{what} reserved instance applied",
                            ),
                            rate=rate,
                            sp_rate=sp_rate,
                            lo=kind.lo,
                            hi=kind.hi,
                            weight=kind.weight * acct_w[j - 1] * float(rng.lognormal(0.0, 0.7)),
                        )
                    )

    def _realistic_usage(self, cat: _Catalogue) -> None:
        """Usage templates ("slots") of the realistic shape: each account's own mix of (usage kind, region).

        An account's lines are lognormal (a few large accounts); its slots are drawn without replacement from
        every (kind, region), weighted by the kind, the account's liking of the product and its regions (a
        Dirichlet mix: mostly one or two); their number grows with the account's lines. Resources are pools per
        (account, region, resource kind), one resource per _R_LINES_PER_RESOURCE expected lines a day.
        """
        rng = self.struct_rng
        pairs = _realistic_pairs()
        n_regions = len(_R_REGIONS)
        a = self.n_accounts
        acct_w = rng.lognormal(0.0, _R_ACCOUNT_SIGMA, size=a)
        acct_w /= acct_w.sum()
        lines = (int(self.n_usage.sum()) + self.n_cov_total + self.n_du_total) / self.days * acct_w  # a day
        n_slots = np.clip(np.rint(lines / _R_LINES_PER_SLOT), _R_MIN_SLOTS, _R_MAX_SLOTS).astype(np.int64)
        region_w = np.array([r[4] for r in _R_REGIONS])
        rho = rng.dirichlet(_R_REGION_CONCENTRATION * region_w / region_w.sum(), size=a)
        rho = np.hstack([rho, np.ones((a, 1))])  # global services
        theta = rng.lognormal(0.0, _R_PRODUCT_SIGMA, size=(a, self.n_products))
        ri_pairs = [pairs.find("AmazonEC2", f"BoxUsage:{x}", "RunInstances", 0) for x in ("m5.large", "c5.xlarge")]
        anchor_pairs = [
            pairs.find("AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", 0),
            pairs.find("AWSDataTransfer", "DataTransfer-Out-Bytes", "RunInstances", 0),
        ]
        chosen_pairs, chosen_share = [], []
        for j in range(a):
            # RI-coverable usage in every third account and the RI owners; S3 and data transfer in account 1
            # (all in us-east-1, region 0)
            forced = (ri_pairs if j % 3 == 0 or j == a - 1 else []) + (anchor_pairs if j == 0 else [])
            # the account's regions: those with 1/1000 of its main region's weight or more, and global services
            regions = np.flatnonzero(rho[j, :n_regions] >= rho[j, :n_regions].max() * 1e-3).tolist()
            if forced and regions[0] != 0:
                regions.insert(0, 0)
            cand = np.concatenate([pairs.by_region[r] for r in [*regions, n_regions]])
            w = pairs.weight[cand] * theta[j, pairs.product[cand]] * rho[j, pairs.region[cand]]
            with np.errstate(divide="ignore"):
                keys = rng.standard_exponential(len(cand)) / w  # the k smallest: weighted, without replacement
            if forced:
                at = np.searchsorted(pairs.by_region[0], forced)  # region 0 comes first in cand
                w[at] = np.maximum(w[at], w.max() * 1e-3)
                keys[at] = -1.0
            k = min(int(n_slots[j]), int(np.count_nonzero(w > 0)))
            sel = np.argpartition(keys, k - 1)[:k] if k < len(cand) else np.flatnonzero(w > 0)
            sel = sel[np.argsort(cand[sel])]
            share = w[sel] ** _R_WEIGHT_POWER
            chosen_pairs.append(cand[sel])
            chosen_share.append(share / share.sum())
        slot_acct = np.repeat(np.arange(1, a + 1), [len(x) for x in chosen_pairs])
        sp = np.concatenate(chosen_pairs)
        share = np.concatenate(chosen_share)  # of the account's lines
        n = len(sp)
        weight = acct_w[slot_acct - 1] * share * rng.lognormal(0.0, 0.3, size=n)
        # one anchor line on day 1 per account: its heaviest slot
        order = np.lexsort((-weight, slot_acct))
        _accts, first = np.unique(slot_acct[order], return_index=True)
        self.account_anchor_ids = order[first].astype(np.int32)

        # resource pools: (account, region, resource kind), sized by the busiest of its slots
        res_kind = pairs.resource[sp]
        has = res_kind >= 0
        n_kinds = len(_R_RESOURCE_KINDS)
        per_day = lines[slot_acct - 1] * share
        n_res = np.maximum(1, np.rint(per_day / _R_LINES_PER_RESOURCE)).astype(np.int64)
        key = (slot_acct * (n_regions + 1) + pairs.region[sp]) * n_kinds + res_kind
        pools, inv = np.unique(key[has], return_inverse=True)
        pool_size = np.zeros(len(pools), dtype=np.int64)
        np.maximum.at(pool_size, inv, n_res[has])
        pool_start = np.concatenate([[0], np.cumsum(pool_size)[:-1]])
        self.slot_res_start = np.zeros(n, dtype=np.int64)
        self.slot_res_count = np.zeros(n, dtype=np.int64)
        self.slot_res_start[has] = pool_start[inv]
        self.slot_res_count[has] = n_res[has]
        self.pool_resources = self._pool_resources(pools, pool_size, pool_start)

        team = rng.integers(len(_TEAMS), size=n)
        team_on = rng.random(n) > 0.25
        project = rng.integers(len(_PROJECTS), size=n)
        project_on = rng.random(n) > 0.35
        accts = self.accounts
        spl = sp.tolist()
        descriptions = []
        for p, j in zip(spl, slot_acct.tolist(), strict=True):
            usage, covered, applied = pairs.descriptions[p]
            negation = f"SavingsPlanNegation used by AccountId : {accts[j]} and UsageSku : {pairs.sku[p]}"
            descriptions += (usage, covered, negation, applied)
        cat.extend(
            n,
            descriptions,
            acct=slot_acct.tolist(),
            product=[pairs.product_code[p] for p in spl],
            usage_type=[pairs.usage_type[p] for p in spl],
            operation=[pairs.operation[p] for p in spl],
            region=[pairs.region_code[p] for p in spl],
            location=[pairs.location[p] for p in spl],
            unit=[pairs.unit[p] for p in spl],
            instance_type=[pairs.instance_type[p] for p in spl],
            family=[pairs.family[p] for p in spl],
            team=[_TEAMS[x] if on else "" for x, on in zip(team.tolist(), team_on.tolist(), strict=True)],
            project=[_PROJECTS[x] if on else "" for x, on in zip(project.tolist(), project_on.tolist(), strict=True)],
            rate=pairs.rate[sp].tolist(),
            sp_rate=pairs.sp_rate[sp].tolist(),
            lo=pairs.lo[sp].tolist(),
            hi=pairs.hi[sp].tolist(),
            weight=weight.tolist(),
        )

    def _pool_resources(self, pools: np.ndarray, size: np.ndarray, start: np.ndarray) -> list[str]:
        """The resource ids of the pools (keys (account * (regions + 1) + region) * resource kinds + kind)."""
        rng = self.struct_rng
        n_regions, n_kinds = len(_R_REGIONS), len(_R_RESOURCE_KINDS)
        total = int(size.sum())
        pool = np.repeat(np.arange(len(pools)), size)
        number = (np.arange(total) - start[pool] + 1).tolist()
        kind = (pools % n_kinds)[pool].tolist()
        region = (pools // n_kinds % (n_regions + 1))[pool].tolist()
        acct = (pools // n_kinds // (n_regions + 1))[pool].tolist()
        word = rng.integers(len(_R_WORDS), size=len(pools))[pool].tolist()
        hex_hi = rng.integers(16, size=total).tolist()
        hex_lo = rng.integers(0, 2**64, size=total, dtype=np.uint64).tolist()
        codes = [r[0] for r in _R_REGIONS] + [""]
        patterns = [_R_RESOURCES[k] for k in _R_RESOURCE_KINDS]
        accounts = self.accounts
        out = []
        for k, r, j, w, m, h, x in zip(kind, region, acct, word, number, hex_hi, hex_lo, strict=True):
            hx = f"{h:x}{x:016x}"
            out.append(
                patterns[k].format(region=codes[r], acct=accounts[j], word=_R_WORDS[w], n=m, hex=hx, HEX=hx.upper())
            )
        return out

    def _resources(self, tids: np.ndarray) -> np.ndarray | None:
        """Realistic shape: the resource (index into the resource vocabulary) of each usage row; else None."""
        if not self.realistic:
            return None
        count = self.t_res_count[tids]
        u = self.struct_rng.random(len(tids))
        offset = (count * u * u).astype(np.int64)  # a long tail: low numbers are the busy resources
        return np.where(count > 0, self.t_res_start[tids] + offset, tids)

    def _sp_arn(self, k: int, owner: int) -> str:
        return f"arn:aws:savingsplans::{self.accounts[owner]}:savingsplan/{_uuid('sp', self.seed, self.payer_id, k)}"

    def _ri_arn(self, k: int, owner: int) -> str:
        ri_id = _uuid("ri", self.seed, self.payer_id, k)
        return f"arn:aws:ec2:us-east-1:{self.accounts[owner]}:reserved-instances/{ri_id}"

    # ---- Arrow vocabularies --------------------------------------------------------------

    def _build_vocabularies(self) -> None:
        t = self.cat
        cur2 = self.fmt == cols.CUR2

        def strings(values: Sequence[str]) -> pa.Array:
            return pa.array([(v if v else None) for v in values] if cur2 else list(values), pa.string())

        self.v = {
            "line_item_usage_account_id": pa.array([self.accounts[a] for a in t.acct], pa.string()),
            "line_item_product_code": pa.array(t.product, pa.string()),
            "line_item_usage_type": strings(t.usage_type),
            "line_item_operation": strings(t.operation),
            "pricing_unit": strings(t.unit),
            "product_servicecode": pa.array(t.product, pa.string()),
            "product_product_family": strings(t.family),
            "product_instance_type": strings(t.instance_type),
            "bill_bill_type": pa.array(t.bill_type, pa.string()),
            cols.REGION_COLUMN[self.fmt]: strings(t.region),
        }
        # index < len(t): the template's own resource; realistic: then the pools' resources
        self.v_resource = strings(t.resource_id + (self.pool_resources if self.realistic else []))
        self.v_desc = pa.array(t.descriptions, pa.string())
        names = dict(_R_PRODUCTS)
        names[_SP_PRODUCT[0]] = _SP_PRODUCT[1]
        names[_SUPPORT_PRODUCT[0]] = _SUPPORT_PRODUCT[1]
        if cur2:
            self.v["line_item_usage_account_name"] = pa.array(
                [("Payer" if a == 0 else "Linked account") + f" {self.payer}-{a}" for a in t.acct], pa.string()
            )
            self.v["product"] = _map_array(
                [
                    {"product_name": names[p], **({"location": loc} if loc else {})}
                    for p, loc in zip(t.product, t.location, strict=True)
                ]
            )
            tags = [
                {k: v for k, v in (("user:team", team), ("user:project", project)) if v}
                for team, project in zip(t.team, t.project, strict=True)
            ]
            self.v["resource_tags"] = _map_array(tags)
            self.v["tags"] = _map_array(tags)
            self.v["cost_category"] = _map_array(
                [{} if a == 0 else {"environment": "production" if a % 2 else "development"} for a in t.acct]
            )
        else:
            self.v["product_product_name"] = pa.array([names[p] for p in t.product], pa.string())
            self.v["product_location"] = pa.array(t.location, pa.string())
            self.v["resource_tags_user_team"] = pa.array(t.team, pa.string())
            self.v["resource_tags_user_project"] = pa.array(t.project, pa.string())

        # time vocab: index d < days = day d; index days = the whole billing period
        start = datetime(self.period_start.year, self.period_start.month, 1, tzinfo=UTC)
        end = datetime(self.period_end.year, self.period_end.month, 1, tzinfo=UTC)
        starts = [start + timedelta(days=i) for i in range(self.days)] + [start]
        ends = [start + timedelta(days=i + 1) for i in range(self.days)] + [end]
        ms = lambda ds: pa.array([int(x.timestamp() * 1000) for x in ds], pa.int64()).cast(cols.TIMESTAMP)  # noqa: E731
        self.v_start, self.v_end = ms(starts), ms(ends)
        self.v_interval = pa.array([f"{_iso(a)}/{_iso(b)}" for a, b in zip(starts, ends, strict=True)])
        self.period_start_ts = pa.scalar(int(start.timestamp() * 1000), cols.TIMESTAMP)
        self.period_end_ts = pa.scalar(int(end.timestamp() * 1000), cols.TIMESTAMP)
        self.v_type = pa.array(LINE_ITEM_TYPES, pa.string())
        terms = [_PRICING_TERM.get(k, "") for k in range(len(LINE_ITEM_TYPES))]
        self.v_term = pa.array([(x or None) if cur2 else x for x in terms], pa.string())
        self.v_arn_sp = pa.array([p.arn for p in self.plans] + [None if cur2 else ""], pa.string())
        self.v_arn_ri = pa.array([r.arn for r in self.ris] + [None if cur2 else ""], pa.string())
        self.disc_keys = pa.array([d[4] for d in _DISCOUNTS] + ["total_discount"], pa.string())
        self.disc_key_of_type = np.full(len(LINE_ITEM_TYPES), -1, dtype=np.int64)
        for k, d in enumerate(_DISCOUNTS):
            self.disc_key_of_type[d[0]] = k
        self.schema = cols.schema(self.fmt)

    # ---- main loop -----------------------------------------------------------------------

    def run(self) -> PayerDelivery:
        period = f"{self.period_start:%Y-%m}"
        self.progress(
            f"payer {self.payer_id} ({self.fmt}, {self.name}): {period}, {len(self.accounts) - 1} linked accounts, "
            f"{self.days} days, target {self.budget:,} rows"
        )
        part_key = data_partition_key(self.payer_id, self.fmt, self.period_start)
        self.sink = _Sink(
            root=self.out,
            partition_key=part_key,
            file_name=lambda n: data_file_name(self.payer_id, self.fmt, n),
            schema=self.schema,
            rows_per_file=self.rows_per_file,
            chunk_rows=self.chunk_rows,
            progress=self.progress,
        )
        try:
            for d in range(self.days):
                self._usage(d, int(self.n_usage[d]))
                self._covered(d, int(self.n_cov[d]))
                self._discounted(d, int(self.n_du[d]))
                self._end_of_day(d)
            self._end_of_month()
            self._flush_batches()
            keys = self.sink.close()
        except BaseException:
            self.sink.abort()
            raise
        _remove_stale(self.out / part_key, {k.rsplit("/", 1)[1] for k in keys})
        m_key = manifest_key(self.payer_id, self.fmt, self.period_start)
        m_path = self.out / m_key
        _write_json_atomic(m_path, self._manifest(keys))
        self.progress(f"payer {self.payer_id}: {self.row_counter:,} rows in {len(keys)} file(s); manifest {m_key}")
        return PayerDelivery(
            payer_number=self.payer,
            payer_account_id=self.payer_id,
            linked_account_ids=tuple(self.accounts[1:]),
            source_format=self.fmt,
            report_name=self.name,
            manifest_id=self.manifest_id,
            manifest_key=m_key,
            manifest_path=m_path,
            data_keys=tuple(keys),
            data_paths=tuple(self.out / k for k in keys),
            row_count=self.row_counter,
            rows_by_line_item_type={LINE_ITEM_TYPES[k]: int(c) for k, c in enumerate(self.type_counts) if c},
            unblended_cost=Decimal(self.unblended_units).scaleb(-8),
            amortized_cost=Decimal(self.amortized_units).scaleb(-8),
            invoice_id=self.invoice_id,
        )

    def _pieces(self, n: int, size: int) -> list[int]:
        return [min(size, n - s) for s in range(0, n, size)]

    def _draw_amounts(self, tids: np.ndarray) -> np.ndarray:
        u = self.amount_rng.random(len(tids))
        return np.round(self.t_lo[tids] + self.t_span[tids] * u, 6)

    def _add_usage(self, acc_keys: np.ndarray, units: np.ndarray) -> None:
        np.add.at(self.usage_day, acc_keys, units)

    def _usage(self, d: int, n: int) -> None:
        anchors = self.anchor_ids if d == 0 else self.anchor_ids[:0]
        for i, k in enumerate(self._pieces(n + len(anchors), self.chunk_rows)):
            first = anchors if i == 0 else anchors[:0]
            tids = self.struct_rng.choice(self.usage_ids, size=k - len(first), p=self.usage_p)
            tids = np.concatenate([first, tids.astype(np.int32)])
            amount = self._draw_amounts(tids)
            rate = self.t_rate[tids]
            cost = _to_units(amount * rate)
            self._add_usage(self.t_acct[tids] * self.n_products + self.t_product[tids], cost)
            self._emit(
                dict(
                    t=tids,
                    lit=np.full(k, USAGE),
                    day=d,
                    amount=amount,
                    rate=rate,
                    unbl=cost,
                    pod_rate=rate,
                    pod=cost,
                    res=self._resources(tids),
                )
            )

    def _covered(self, d: int, n: int) -> None:
        for k in self._pieces(n, max(1, self.chunk_rows // 2)):
            tids = self.struct_rng.choice(self.sp_ids, size=k, p=self.sp_p)
            plan = self.struct_rng.choice(len(self.plans), size=k, p=_PLAN_WEIGHTS)
            res = self._resources(tids)
            amount = self._draw_amounts(tids)
            rate, sp_rate = self.t_rate[tids], self.t_sp_rate[tids]
            pod = _to_units(amount * rate)
            eff = _to_units(amount * sp_rate)
            ok = np.zeros(k, dtype=bool)
            for p, sp in enumerate(self.plans):
                m = np.flatnonzero(plan == p)
                fits = np.cumsum(eff[m]) + self.sp_used_day[p] <= sp.commitment
                ok[m[fits]] = True
                self.sp_used_day[p] += int(eff[m[fits]].sum())
            spill = ~ok  # commitment used up: the rest of the day's eligible usage is on-demand
            lit = np.where(ok, SP_COVERED, USAGE)
            sp_idx = np.where(ok, plan, -1)
            self._add_usage(self.t_acct[tids[spill]] * self.n_products + self.t_product[tids[spill]], pod[spill])
            self._emit(
                dict(
                    t=tids,
                    lit=lit,
                    day=d,
                    amount=amount,
                    rate=rate,
                    unbl=pod,
                    pod_rate=rate,
                    pod=pod,
                    desc=np.where(ok, 1, 0),
                    sp=sp_idx,
                    sp_rate=np.where(ok, sp_rate, 0.0),
                    sp_eff=np.where(ok, eff, 0),
                    res=res,
                )
            )
            c = int(ok.sum())
            if c:
                self._emit(
                    dict(
                        t=tids[ok],
                        lit=np.full(c, SP_NEGATION),
                        day=d,
                        rate=rate[ok],
                        unbl=-pod[ok],
                        desc=np.full(c, 2),
                        sp=plan[ok],
                        sp_rate=sp_rate[ok],
                        res=None if res is None else res[ok],
                    )
                )

    def _discounted(self, d: int, n: int) -> None:
        for k in self._pieces(n, self.chunk_rows):
            ri = self.struct_rng.choice(len(self.ris), size=k, p=_RI_WEIGHTS)
            tids = np.empty(k, dtype=np.int32)
            for r, res in enumerate(self.ris):
                m = ri == r
                tids[m] = self.struct_rng.choice(res.templates, size=int(m.sum()))
            resource = self._resources(tids)
            hours = self.amount_rng.integers(1, 25, size=k).astype(np.float64)
            rate = self.t_rate[tids]
            pod = _to_units(hours * rate)
            ok = np.zeros(k, dtype=bool)
            up = np.zeros(k)
            rec = np.zeros(k)
            for r, res in enumerate(self.ris):
                m = np.flatnonzero(ri == r)
                fits = np.cumsum(hours[m]) + self.ri_used_day[r] <= res.instances * 24
                ok[m[fits]] = True
                used = int(hours[m[fits]].sum())
                self.ri_used_day[r] += used
                self.ri_used_total[r] += used
                up[m] = res.upfront_hourly
                rec[m] = res.recurring_hourly
            spill = ~ok
            amort_up = np.where(ok, _to_units(hours * up), 0)
            recurring = np.where(ok, _to_units(hours * rec), 0)
            self._add_usage(self.t_acct[tids[spill]] * self.n_products + self.t_product[tids[spill]], pod[spill])
            self._emit(
                dict(
                    t=tids,
                    lit=np.where(ok, DISCOUNTED_USAGE, USAGE),
                    day=d,
                    amount=hours,
                    rate=np.where(ok, 0.0, rate),
                    unbl=np.where(ok, 0, pod),
                    pod_rate=rate,
                    pod=pod,
                    desc=np.where(ok, 3, 0),
                    ri=np.where(ok, ri, -1),
                    ri_eff=amort_up + recurring,
                    ri_amort_usage=amort_up,
                    ri_recur_usage=recurring,
                    res=resource,
                )
            )

    def _end_of_day(self, d: int) -> None:
        k = len(self.plans)
        total = np.array([p.commitment for p in self.plans], dtype=np.int64)
        upfront = np.array([p.upfront_part for p in self.plans], dtype=np.int64)
        recurring = total - upfront
        self._emit(
            dict(
                t=np.array([p.fee_template for p in self.plans]),
                lit=np.full(k, SP_RECURRING_FEE),
                day=d,
                amount=np.full(k, 24.0),
                rate=_money(recurring) / 24,
                unbl=recurring,
                sp=np.arange(k),
                sp_total=total,
                sp_used=self.sp_used_day.copy(),
                sp_amort_up=upfront,
                sp_recur=recurring,
            )
        )
        if self.discount_daily:
            self._discounts(self.usage_day, d, self.caps)
        self.usage_month += self.usage_day
        self.usage_day[:] = 0
        self.sp_used_day[:] = 0
        self.ri_used_day[:] = 0

    def _discounts(self, base: np.ndarray, day: int, caps: dict[str, int]) -> None:
        for lit, _product, rate, _text, _key in _DISCOUNTS:
            tmpl = self.discount_templates[lit]
            keys = np.flatnonzero((tmpl >= 0) & (base > 0))
            cap = caps["edp"] if lit == EDP_DISCOUNT else caps["other"]
            keys = _top(keys, base, cap)
            amount = -_to_units(_money(base[keys]) * rate)
            keep = amount < 0
            keys, amount = keys[keep], amount[keep]
            if len(keys):
                self._emit(dict(t=tmpl[keys], lit=np.full(len(keys), lit), day=day, unbl=amount))

    def _end_of_month(self) -> None:
        last, month = self.days - 1, self.days
        base = self.usage_month
        if not self.discount_daily:
            self._discounts(base, month, self.caps)
        # tax on each (account, product), credits on each account's biggest product
        keys = _top(np.flatnonzero((self.tax_templates >= 0) & (base > 0)), base, self.caps["tax"])
        tax = _to_units(_money(base[keys]) * _TAX_RATE)
        keys, tax = keys[tax > 0], tax[tax > 0]
        self._emit(dict(t=self.tax_templates[keys], lit=np.full(len(keys), TAX), day=month, unbl=tax))
        per_acct = base.reshape(len(self.accounts), self.n_products)
        acct_total = per_acct.sum(axis=1)
        accts = _top(np.flatnonzero(acct_total > 0), acct_total, self.caps["credit"])
        ckeys = accts * self.n_products + per_acct[accts].argmax(axis=1)
        credit = -np.minimum(_to_units(_money(acct_total[accts]) * _CREDIT_RATE), _CREDIT_CAP)
        keep = credit < 0
        self._emit(
            dict(
                t=self.credit_templates[ckeys[keep]], lit=np.full(int(keep.sum()), CREDIT), day=month, unbl=credit[keep]
            )
        )
        # Savings Plans upfront fee (the partial-upfront plan was bought this month, 1-year term)
        for k, plan in enumerate(self.plans):
            if plan.upfront:
                fee = np.array([plan.upfront_part * 365])
                self._emit(
                    dict(
                        t=np.array([plan.upfront_template]),
                        lit=np.array([SP_UPFRONT_FEE]),
                        day=0,
                        amount=np.array([1.0]),
                        rate=_money(fee),
                        unbl=fee,
                        sp=np.array([k]),
                    )
                )
        # RI fees: the month's recurring fee on day 1; unused amounts over the delivered days
        for r, ri in enumerate(self.ris):
            hours_month = ri.instances * self.hours_in_month
            unused_h = ri.instances * 24 * self.days - int(self.ri_used_total[r])
            self._emit(
                dict(
                    t=np.array([ri.fee_template]),
                    lit=np.array([RI_FEE]),
                    day=month,
                    amount=np.array([float(hours_month)]),
                    rate=np.array([ri.recurring_hourly]),
                    unbl=_to_units(np.array([hours_month * ri.recurring_hourly])),
                    ri=np.array([r]),
                    ri_amort_bp=_to_units(np.array([hours_month * ri.upfront_hourly])),
                    ri_unused_amort=_to_units(np.array([unused_h * ri.upfront_hourly])),
                    ri_unused_recur=_to_units(np.array([unused_h * ri.recurring_hourly])),
                    ri_unused_qty=np.array([float(unused_h)]),
                )
            )
            if ri.purchased:
                upfront = _to_units(np.array([ri.instances * 8760 * ri.upfront_hourly]))
                self._emit(
                    dict(
                        t=np.array([ri.purchase_template]),
                        lit=np.array([FEE]),
                        day=0,
                        amount=np.array([float(ri.instances)]),
                        rate=_money(upfront) / ri.instances,
                        unbl=upfront,
                        ri=np.array([r]),
                    )
                )
        # Business support on the payer account
        support = max(_SUPPORT_MIN, round(int(base.sum()) * _SUPPORT_RATE / 1_000_000) * 1_000_000)  # cents
        self._emit(
            dict(
                t=np.array([self.support_template]),
                lit=np.array([FEE]),
                day=month,
                amount=np.array([1.0]),
                rate=_money(np.array([support])),
                unbl=np.array([support]),
            )
        )
        # refunds: one of a Savings Plans fee, one of an ordinary service
        plan0 = self.plans[0]
        sp_refund = -(plan0.commitment - plan0.upfront_part)
        usage_refund = -min(
            25 * UNITS, max(UNITS // 100, int(base.sum()) // 1_000_000_000 * 1_000_000)
        )  # 0.1 %, in cents
        self._emit(
            dict(
                t=np.array([self.refund_sp_template, self.refund_usage_template]),
                lit=np.full(2, REFUND),
                day=last,
                unbl=np.array([sp_refund, usage_refund]),
            )
        )

    # ---- rows -> Arrow -------------------------------------------------------------------
    # A batch of rows is a dict of arrays: t (template), lit (line item type), day (int or array) and the
    # figures of _table; a missing figure is 0 (sp, ri: -1; res: the template's own resource).

    def _emit(self, b: dict) -> None:
        n = len(b["t"])
        if n == 0:
            return
        if not self.merge_batches:
            self._write_rows(b, n)
            return
        self.batches.append(b)
        self.batch_rows += n
        if self.batch_rows >= self.chunk_rows:
            self._flush_batches()

    def _flush_batches(self) -> None:
        """Write the buffered batches as one table (far fewer, larger tables when batches are small)."""
        batches, n = self.batches, self.batch_rows
        self.batches, self.batch_rows = [], 0
        if len(batches) == 1:
            self._write_rows(batches[0], n)
        elif batches:
            keys = {k for b in batches for k, v in b.items() if v is not None}
            merged = {}
            for key in keys:
                parts = []
                for b in batches:
                    v, size = b.get(key), len(b["t"])
                    if key == "day" or (v is None and key not in ("res", "sp", "ri")):
                        v = np.full(size, 0.0 if key in _FLOAT_KEYS else 0 if v is None else v)
                    elif v is None:
                        v = np.asarray(b["t"], dtype=np.int64) if key == "res" else np.full(size, -1)
                    parts.append(np.asarray(v))
                merged[key] = np.concatenate(parts)
            self._write_rows(merged, n)

    def _write_rows(self, b: dict, n: int) -> None:
        table = self._table(b, n)
        self.row_counter += n
        self.sink.add(table)
        if self.row_counter >= self.next_million:
            self.progress(f"payer {self.payer_id}: {self.row_counter:,} rows")
            self.next_million = (self.row_counter // 1_000_000 + 1) * 1_000_000

    def _table(self, b: dict, n: int) -> pa.Table:
        cur2 = self.fmt == cols.CUR2
        zi = np.zeros(n, dtype=np.int64)
        zf = np.zeros(n)

        def get(key: str, default: np.ndarray) -> np.ndarray:
            v = b.get(key)
            return default if v is None else np.asarray(v)

        t = pa.array(np.asarray(b["t"], dtype=np.int32))
        lit = np.asarray(b["lit"], dtype=np.int64)
        day = pa.array(np.full(n, b["day"], dtype=np.int32))
        unbl = get("unbl", zi).astype(np.int64)
        pod = get("pod", zi).astype(np.int64)
        sp = get("sp", np.full(n, -1)).astype(np.int64)
        ri = get("ri", np.full(n, -1)).astype(np.int64)
        sp_eff, sp_total, sp_used = get("sp_eff", zi), get("sp_total", zi), get("sp_used", zi)
        ri_eff = get("ri_eff", zi)
        ri_unused_amort, ri_unused_recur = get("ri_unused_amort", zi), get("ri_unused_recur", zi)

        # statistics (exact, in 1e-8 USD)
        amortized = unbl.copy()
        amortized[lit == SP_COVERED] = sp_eff[lit == SP_COVERED]
        amortized[(lit == SP_NEGATION) | (lit == SP_UPFRONT_FEE)] = 0
        m = lit == SP_RECURRING_FEE
        amortized[m] = sp_total[m] - sp_used[m]
        m = lit == DISCOUNTED_USAGE
        amortized[m] = ri_eff[m]
        m = lit == RI_FEE
        amortized[m] = ri_unused_amort[m] + ri_unused_recur[m]
        amortized[(lit == FEE) & (ri >= 0)] = 0
        self.amortized_units += int(amortized.sum())
        self.unblended_units += int(unbl.sum())
        self.type_counts += np.bincount(lit, minlength=len(LINE_ITEM_TYPES))

        sp_valid = np.isin(lit, _SP_TYPES)
        ri_valid = np.isin(lit, _RI_TYPES) | ((lit == FEE) & (ri >= 0))

        def num(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
            values = np.asarray(values, dtype=np.float64)
            if cur2 and valid is not None:
                return pa.array(values, mask=~valid)
            return pa.array(values)

        def money(units: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
            return num(_money(np.asarray(units, dtype=np.int64)), valid)

        rate = get("rate", zf)
        unbl_arr = money(unbl)
        c: dict[str, pa.Array] = {
            "identity_line_item_id": _line_item_ids(self.id_key, self.row_counter, n),
            "identity_time_interval": self.v_interval.take(day),
            "bill_invoice_id": pa.nulls(n, pa.string())
            if cur2 and not self.invoice_id
            else pa.repeat(self.invoice_id or "", n),
            "bill_invoicing_entity": pa.repeat("Amazon Web Services, Inc.", n),
            "bill_billing_entity": pa.repeat("AWS", n),
            "bill_payer_account_id": pa.repeat(self.payer_id, n),
            "bill_payer_account_name": pa.repeat(f"Payer {self.payer}", n),
            "bill_billing_period_start_date": pa.repeat(self.period_start_ts, n),
            "bill_billing_period_end_date": pa.repeat(self.period_end_ts, n),
            "line_item_line_item_type": self.v_type.take(pa.array(lit)),
            "line_item_usage_start_date": self.v_start.take(day),
            "line_item_usage_end_date": self.v_end.take(day),
            "line_item_usage_amount": num(get("amount", zf)),
            "line_item_currency_code": pa.repeat(CURRENCY, n),
            "line_item_unblended_rate": num(rate),
            "line_item_unblended_cost": unbl_arr,
            "line_item_net_unblended_cost": unbl_arr,
            "line_item_blended_rate": num(rate),
            "line_item_blended_cost": unbl_arr,
            "line_item_line_item_description": self.v_desc.take(
                pa.array(np.asarray(b["t"], dtype=np.int64) * 4 + get("desc", zi))
            ),
            "line_item_legal_entity": pa.repeat("Amazon Web Services, Inc.", n),
            "pricing_term": self.v_term.take(pa.array(lit)),
            "pricing_public_on_demand_rate": num(get("pod_rate", zf)),
            "pricing_public_on_demand_cost": money(pod),
            "reservation_reservation_a_r_n": self.v_arn_ri.take(pa.array(np.where(ri >= 0, ri, len(self.ris)))),
            "reservation_effective_cost": money(ri_eff, ri_valid),
            "reservation_net_effective_cost": money(ri_eff, ri_valid),
            "reservation_amortized_upfront_cost_for_usage": money(get("ri_amort_usage", zi), ri_valid),
            "reservation_recurring_fee_for_usage": money(get("ri_recur_usage", zi), ri_valid),
            "reservation_amortized_upfront_fee_for_billing_period": money(get("ri_amort_bp", zi), ri_valid),
            "reservation_unused_amortized_upfront_fee_for_billing_period": money(ri_unused_amort, ri_valid),
            "reservation_unused_recurring_fee": money(ri_unused_recur, ri_valid),
            "reservation_unused_quantity": num(get("ri_unused_qty", zf), ri_valid),
            "savings_plan_savings_plan_a_r_n": self.v_arn_sp.take(pa.array(np.where(sp >= 0, sp, len(self.plans)))),
            "savings_plan_savings_plan_rate": num(get("sp_rate", zf), sp_valid),
            "savings_plan_savings_plan_effective_cost": money(sp_eff, sp_valid),
            "savings_plan_net_savings_plan_effective_cost": money(sp_eff, sp_valid),
            "savings_plan_total_commitment_to_date": money(sp_total, sp_valid),
            "savings_plan_used_commitment": money(sp_used, sp_valid),
            "savings_plan_amortized_upfront_commitment_for_billing_period": money(get("sp_amort_up", zi), sp_valid),
            "savings_plan_recurring_commitment_for_billing_period": money(get("sp_recur", zi), sp_valid),
        }
        for name, vocab in self.v.items():
            c[name] = vocab.take(t)
        res = b.get("res")
        c["line_item_resource_id"] = self.v_resource.take(t if res is None else pa.array(res, pa.int64()))
        if cur2:
            c["discount"] = self._discount_map(lit, unbl)
        arrays = [c[f.name] for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _discount_map(self, lit: np.ndarray, unbl: np.ndarray) -> pa.Array:
        key = self.disc_key_of_type[lit]
        is_disc = key >= 0
        offsets = np.zeros(len(lit) + 1, dtype=np.int32)
        np.cumsum(np.where(is_disc, 2, 0), out=offsets[1:])
        k = key[is_disc]
        key_idx = np.empty(2 * len(k), dtype=np.int64)
        key_idx[0::2] = k
        key_idx[1::2] = len(_DISCOUNTS)  # total_discount
        values = np.repeat(_money(unbl[is_disc]), 2)
        return pa.MapArray.from_arrays(
            pa.array(offsets), self.disc_keys.take(pa.array(key_idx)), pa.array(values, pa.float64())
        )

    # ---- manifest ------------------------------------------------------------------------

    def _manifest(self, keys: list[str]) -> dict:
        if self.fmt == cols.LEGACY:
            return {
                "assemblyId": self.manifest_id,
                "account": self.payer_id,
                "columns": cols.manifest_columns(cols.LEGACY),
                "charset": "UTF-8",
                "compression": "Parquet",
                "contentType": "Parquet",
                "reportId": hashlib.sha256(f"{self.payer_id}/{self.name}".encode()).hexdigest(),
                "reportName": self.name,
                "billingPeriod": {
                    "start": f"{self.period_start:%Y%m%d}T000000.000Z",
                    "end": f"{self.period_end:%Y%m%d}T000000.000Z",
                },
                "bucket": self.bucket,
                "reportKeys": keys,
                "additionalArtifactKeys": [],
            }
        export_id = _uuid("export", self.seed, self.payer_id)
        return {
            "executionId": self.manifest_id,
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{self.payer_id}:export/{self.name}-{export_id}",
            "columns": cols.manifest_columns(cols.CUR2),
            "dataFiles": [f"s3://{self.bucket}/{k}" for k in keys],
            "additionalOutputFiles": [],
        }


def _top(keys: np.ndarray, values: np.ndarray, cap: int) -> np.ndarray:
    """The `cap` keys with the largest `values[key]` (all when there are fewer), in key order."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) <= cap:
        return keys
    order = np.argsort(-values[keys], kind="stable")[:cap]
    return np.sort(keys[order])


def _map_array(rows: list[dict[str, str]]) -> pa.Array:
    return pa.array([list(r.items()) for r in rows], type=cols.STRING_MAP)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


class _Sink:
    """Buffers Arrow tables and writes them as snappy Parquet files of at most `rows_per_file` rows."""

    def __init__(
        self,
        *,
        root: Path,
        partition_key: str,
        file_name: Callable[[int], str],
        schema: pa.Schema,
        rows_per_file: int,
        chunk_rows: int,
        progress: Callable[[str], None],
    ) -> None:
        self.root = root
        self.partition_key = partition_key
        self.dir = root / partition_key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file_name = file_name
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.chunk_rows = chunk_rows
        self.progress = progress
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.writer: pq.ParquetWriter | None = None
        self.rows_in_file = 0
        self.keys: list[str] = []
        self.tmp: Path | None = None

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        self.pending, self.pending_rows = [], 0
        while table.num_rows:
            if self.writer is None:
                self._open()
            room = self.rows_per_file - self.rows_in_file
            part, table = table.slice(0, room), table.slice(room)
            assert self.writer is not None
            self.writer.write_table(part, row_group_size=self.chunk_rows)
            self.rows_in_file += part.num_rows
            if self.rows_in_file >= self.rows_per_file:
                self._close_file()

    def _open(self) -> None:
        name = self.file_name(len(self.keys) + 1)
        self.tmp = self.dir / f".{name}.tmp"
        self.writer = pq.ParquetWriter(
            self.tmp, self.schema, compression="snappy", use_dictionary=True, write_statistics=True
        )
        self.keys.append(f"{self.partition_key}/{name}")
        self.rows_in_file = 0

    def _close_file(self) -> None:
        assert self.writer is not None and self.tmp is not None
        self.writer.close()
        key = self.keys[-1]
        os.replace(self.tmp, self.root / key)
        self.progress(f"  wrote {key} ({self.rows_in_file:,} rows)")
        self.writer, self.tmp = None, None

    def close(self) -> list[str]:
        self._flush()
        if self.writer is not None:
            self._close_file()
        return list(self.keys)

    def abort(self) -> None:
        """Stop after a failure: the file being written is closed and deleted."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


def _remove_stale(directory: Path, keep: set[str]) -> None:
    """Delete data files of the partition that the new delivery does not list (and our temp files)."""
    for p in directory.iterdir():
        if p.is_file() and p.name not in keep and (p.name.endswith(".parquet") or p.name.endswith(".tmp")):
            p.unlink()


def _write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)

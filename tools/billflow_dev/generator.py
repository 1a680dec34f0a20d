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

Determinism: the structure (catalogue, counts, ids) comes from ``(seed, payer, period)``; amounts
come from ``(seed, payer, period, redeliver)``; manifest ids from the same tuple. Same options ->
byte-identical files.
"""

from __future__ import annotations

import calendar
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
DEFAULT_BUCKET = "billflow-landing"
DEFAULT_ROWS_PER_FILE = 1_000_000
DEFAULT_CHUNK_ROWS = 200_000
MAX_PAYERS = 9  # payer i = str(i) * 12 only yields a 12-digit account id for i <= 9
UNITS = 100_000_000  # money is generated in 1e-8 USD
CURRENCY = "USD"

_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class GeneratorError(ValueError):
    """Bad generator input (the CLI turns it into a usage error, exit code 2)."""


def payer_account_id(payer: int) -> str:
    """Deterministic payer account id (1-based): 1 -> '111111111111'."""
    return str(payer) * 12


def linked_account_id(payer: int, account: int) -> str:
    """Deterministic linked account id (both 1-based): (2, 3) -> '200000000003'."""
    return f"{payer}{account:011d}"


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


def minimum_rows(payers: int, days: int) -> int:
    """Smallest --rows that still gives every payer every line item type for `days` days."""
    return payers * _min_rows_per_payer(days)


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
    payers: int = 2,
    accounts: int = 4,
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
    payers. Raises GeneratorError on bad input.
    """
    period_start = parse_period(period)
    month_days = calendar.monthrange(period_start.year, period_start.month)[1]
    _check(fmt in FORMAT_CHOICES, f"invalid format {fmt!r}: expected one of {', '.join(FORMAT_CHOICES)}")
    _check(isinstance(payers, int) and 1 <= payers <= MAX_PAYERS, f"--payers must be 1..{MAX_PAYERS}")
    _check(isinstance(accounts, int) and 1 <= accounts <= 10_000, "--accounts must be 1..10000")
    if days is None:
        days = month_days
    _check(1 <= days <= month_days, f"--days must be 1..{month_days} for {period}")
    _check(seed >= 0, "--seed must be >= 0")
    _check(rows_per_file >= 1, "--rows-per-file must be >= 1")
    _check(chunk_rows >= 1000, "chunk_rows must be >= 1000")
    _check(bool(re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket)), f"invalid bucket name {bucket!r}")
    need = minimum_rows(payers, days)
    _check(
        rows >= need,
        f"--rows {rows} is too small: every payer needs at least {_min_rows_per_payer(days)} rows to hold "
        f"all {len(LINE_ITEM_TYPES)} line item types over {days} days ({need} for {payers} payer(s))",
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deliveries = []
    per_payer, extra = divmod(rows, payers)
    for i in range(1, payers + 1):
        gen = _PayerGenerator(
            out=out,
            payer=i,
            fmt=payer_format(fmt, i),
            period_start=period_start,
            days=days,
            accounts=accounts,
            budget=per_payer + (1 if i <= extra else 0),
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
    kind: _Kind | None = None


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

        self.n_products = len(_USAGE_PRODUCTS)
        self.product_index = {p: k for k, p in enumerate(_USAGE_PRODUCTS)}
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

    # ---- row planning ---------------------------------------------------------------------

    def _plan_rows(self) -> None:
        a, p, d = self.n_accounts, self.n_products, self.days
        n_disc_keys = p + 3  # EDP on every product, the three other discounts on one product each
        fixed = _FIXED_ROWS + 2 * d  # + one recurring fee per plan and day
        allowance = max(0.0, _DERIVED_SHARE * self.budget - fixed)
        daily_full = n_disc_keys * a * d + a * p + a
        monthly_full = n_disc_keys * a + a * p + a
        if daily_full <= allowance:
            self.discount_daily = True
            self.caps = {"edp": a * p, "other": a, "tax": a * p, "credit": a}
            derived = daily_full
        else:
            self.discount_daily = False
            f = min(1.0, allowance / monthly_full)
            self.caps = {
                "edp": max(1, int(a * p * f)),
                "other": max(1, int(a * f)),
                "tax": max(1, int(a * p * f)),
                "credit": max(1, int(a * f)),
            }
            derived = self.caps["edp"] + 3 * self.caps["other"] + self.caps["tax"] + self.caps["credit"]
        bulk = max(_MIN_BULK, self.budget - fixed - derived)
        n_cov = max(1, round(_SP_COVERED_SHARE * bulk))
        n_du = max(1, round(_DISCOUNTED_SHARE * bulk))
        n_usage = max(0, bulk - 2 * n_cov - n_du - len(_ANCHOR_PRODUCTS))  # + the anchor lines on day 1
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
        rng = self.struct_rng
        t: list[_Template] = []
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
                    t.append(
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
                            kind=kind,
                        )
                    )
        n_usage_templates = len(t)
        weights = np.array([x.weight for x in t])
        self.usage_ids = np.arange(n_usage_templates, dtype=np.int32)
        self.usage_p = weights / weights.sum()
        self.anchor_ids = np.array(
            [
                max((k for k, x in enumerate(t) if x.product == code), key=lambda k: weights[k])
                for code in _ANCHOR_PRODUCTS
            ],
            dtype=np.int32,
        )
        sp_ids = np.array([k for k, x in enumerate(t) if x.sp_rate > 0], dtype=np.int32)
        self.sp_ids = sp_ids
        self.sp_p = weights[sp_ids] / weights[sp_ids].sum()

        # Savings plans: shared by every account of the payer; owners are linked accounts 1 and 2.
        a = self.n_accounts
        self.plans = [
            _SavingsPlan(self._sp_arn(0, 1), 1, "ComputeSP:1yrNoUpfront", upfront=False),
            _SavingsPlan(self._sp_arn(1, min(2, a)), min(2, a), "ComputeSP:1yrPartialUpfront", upfront=True),
        ]
        lo = np.array([t[k].lo for k in sp_ids])
        hi = np.array([t[k].hi for k in sp_ids])
        sp_rate = np.array([t[k].sp_rate for k in sp_ids])
        mean_eff = float(((lo + hi) / 2 * sp_rate) @ self.sp_p) * UNITS
        max_eff = int(np.ceil(float((hi * sp_rate).max()) * UNITS)) + 1
        # commitment sized to the busiest (week)day: weekdays use ~all of it, weekends ~75 %
        for k, plan in enumerate(self.plans):
            per_day = int(self.n_cov.max()) * _PLAN_WEIGHTS[k]
            plan.commitment = max(int(round(mean_eff * per_day, -3)), max_eff)
            plan.upfront_part = plan.commitment // 2 if plan.upfront else 0

        # Reserved instances (EC2, us-east-1), shared across the payer; owners: first and last account.
        self.ris = [
            _Reservation(self._ri_arn(0, 1), 1, "m5.large", 0.096, 0.03, 0.028, purchased=True),
            _Reservation(self._ri_arn(1, a), a, "c5.xlarge", 0.17, 0.0, 0.107, purchased=False),
        ]
        for k, ri in enumerate(self.ris):
            ri.templates = np.array(
                [i for i, x in enumerate(t) if x.region == "us-east-1" and x.instance_type == ri.instance_type],
                dtype=np.int32,
            )
            per_day = int(self.n_du.max()) * _RI_WEIGHTS[k]
            ri.instances = max(1, round(per_day * 12.5 / 24))

        def add(tmpl: _Template) -> int:
            t.append(tmpl)
            return len(t) - 1

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
        n_keys = len(self.accounts) * self.n_products
        self.discount_templates = {}
        for lit, product, _rate, text, _key in _DISCOUNTS:
            ids = np.full(n_keys, -1, dtype=np.int32)
            for j in range(1, len(self.accounts)):
                for p, code in enumerate(_USAGE_PRODUCTS):
                    if product is None or product == code:
                        ids[j * self.n_products + p] = add(_Template(acct=j, product=code, descriptions=same4(text)))
            self.discount_templates[lit] = ids
        self.tax_templates = np.full(n_keys, -1, dtype=np.int32)
        self.credit_templates = np.full(n_keys, -1, dtype=np.int32)
        for j in range(1, len(self.accounts)):
            for p, code in enumerate(_USAGE_PRODUCTS):
                key = j * self.n_products + p
                self.tax_templates[key] = add(
                    _Template(
                        acct=j, product=code, usage_type="Tax", descriptions=same4(f"Tax for product code {code}")
                    )
                )
                self.credit_templates[key] = add(
                    _Template(acct=j, product=code, descriptions=same4("AWS Promotional Credit"))
                )
        self.templates = t

        self.t_acct = np.array([x.acct for x in t], dtype=np.int64)
        self.t_product = np.array([self.product_index.get(x.product, -1) for x in t], dtype=np.int64)
        self.t_rate = np.array([x.rate for x in t])
        self.t_sp_rate = np.array([x.sp_rate for x in t])
        self.t_lo = np.array([x.lo for x in t])
        self.t_span = np.array([x.hi - x.lo for x in t])

    def _sp_arn(self, k: int, owner: int) -> str:
        return f"arn:aws:savingsplans::{self.accounts[owner]}:savingsplan/{_uuid('sp', self.seed, self.payer_id, k)}"

    def _ri_arn(self, k: int, owner: int) -> str:
        ri_id = _uuid("ri", self.seed, self.payer_id, k)
        return f"arn:aws:ec2:us-east-1:{self.accounts[owner]}:reserved-instances/{ri_id}"

    # ---- Arrow vocabularies --------------------------------------------------------------

    def _build_vocabularies(self) -> None:
        t = self.templates
        cur2 = self.fmt == cols.CUR2

        def strings(values: Sequence[str]) -> pa.Array:
            return pa.array([(v if v else None) for v in values] if cur2 else list(values), pa.string())

        self.v = {
            "line_item_usage_account_id": pa.array([self.accounts[x.acct] for x in t], pa.string()),
            "line_item_product_code": pa.array([x.product for x in t], pa.string()),
            "line_item_usage_type": strings([x.usage_type for x in t]),
            "line_item_operation": strings([x.operation for x in t]),
            "line_item_resource_id": strings([x.resource_id for x in t]),
            "pricing_unit": strings([x.unit for x in t]),
            "product_servicecode": pa.array([x.product for x in t], pa.string()),
            "product_product_family": strings([x.family for x in t]),
            "product_instance_type": strings([x.instance_type for x in t]),
            "bill_bill_type": pa.array([x.bill_type for x in t], pa.string()),
            cols.REGION_COLUMN[self.fmt]: strings([x.region for x in t]),
        }
        self.v_desc = pa.array([d for x in t for d in x.descriptions], pa.string())
        names = dict(_PRODUCTS)
        names[_SP_PRODUCT[0]] = _SP_PRODUCT[1]
        names[_SUPPORT_PRODUCT[0]] = _SUPPORT_PRODUCT[1]
        if cur2:
            self.v["line_item_usage_account_name"] = pa.array(
                [("Payer" if x.acct == 0 else "Linked account") + f" {self.payer}-{x.acct}" for x in t], pa.string()
            )
            self.v["product"] = _map_array(
                [{"product_name": names[x.product], **({"location": x.location} if x.location else {})} for x in t]
            )
            tags = [{k: v for k, v in (("user:team", x.team), ("user:project", x.project)) if v} for x in t]
            self.v["resource_tags"] = _map_array(tags)
            self.v["tags"] = _map_array(tags)
            self.v["cost_category"] = _map_array(
                [{} if x.acct == 0 else {"environment": "production" if x.acct % 2 else "development"} for x in t]
            )
        else:
            self.v["product_product_name"] = pa.array([names[x.product] for x in t], pa.string())
            self.v["product_location"] = pa.array([x.location for x in t], pa.string())
            self.v["resource_tags_user_team"] = pa.array([x.team for x in t], pa.string())
            self.v["resource_tags_user_project"] = pa.array([x.project for x in t], pa.string())

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
        for d in range(self.days):
            self._usage(d, int(self.n_usage[d]))
            self._covered(d, int(self.n_cov[d]))
            self._discounted(d, int(self.n_du[d]))
            self._end_of_day(d)
        self._end_of_month()
        keys = self.sink.close()
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
                dict(t=tids, lit=np.full(k, USAGE), day=d, amount=amount, rate=rate, unbl=cost, pod_rate=rate, pod=cost)
            )

    def _covered(self, d: int, n: int) -> None:
        for k in self._pieces(n, max(1, self.chunk_rows // 2)):
            tids = self.struct_rng.choice(self.sp_ids, size=k, p=self.sp_p)
            plan = self.struct_rng.choice(len(self.plans), size=k, p=_PLAN_WEIGHTS)
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
                    )
                )

    def _discounted(self, d: int, n: int) -> None:
        for k in self._pieces(n, self.chunk_rows):
            ri = self.struct_rng.choice(len(self.ris), size=k, p=_RI_WEIGHTS)
            tids = np.empty(k, dtype=np.int32)
            for r, res in enumerate(self.ris):
                m = ri == r
                tids[m] = self.struct_rng.choice(res.templates, size=int(m.sum()))
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

    def _emit(self, b: dict) -> None:
        n = len(b["t"])
        if n == 0:
            return
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

"""`make demo-aws` prints the invoices `make demo` prints: the same generated deliveries loaded and closed on
the embedded deployment, then on the AWS adapters with no account (billflow_dev.demo_aws: moto's S3, Glue
and Athena with its SQL double, Redshift's dbt adapter and Aurora PostgreSQL's on a PostgreSQL started for it)."""

from __future__ import annotations

import argparse
import re
from datetime import date

from billflow.cli import invoices
from billflow.orchestration.runner import run_daily_load, run_monthly_close
from billflow_dev import demo_aws
from billflow_dev.__main__ import main as billflow_dev

PERIOD, AS_OF = "2026-10", date(2026, 11, 15)


def _invoice_tables(printed: str) -> str:
    """What `billflow invoices` prints before its last lines (where the marts are: a file or a connection)."""
    return printed.split("\nserving marts:")[0]


def test_the_aws_demo_prints_the_invoices_of_the_embedded_demo(tmp_path, monkeypatch, capsys, airflow_db):
    landing = tmp_path / "landing"
    arguments = [
        "--format",
        "mixed",
        "--payers",
        "2",
        "--accounts",
        "4",
        "--rows",
        "3000",
        "--seed",
        "42",
        "--final",
        "--quiet",
    ]
    generated = billflow_dev(["generate-cur", "--out", str(landing), "--period", PERIOD, *arguments])
    assert generated == 0
    for name in ("WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID", "WAREHOUSE_CONN_ID", "DBT_PROJECT_DIR"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    for name in ("DBT_PROFILES_DIR", "QUERY_ENGINE", "STAGED_URI", "REPORT_NAMES"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path / "embedded"))
    monkeypatch.setenv("BILLFLOW_LANDING_URI", str(landing))
    run_daily_load(force_reload=True)
    run_monthly_close(as_of=AS_OF)
    capsys.readouterr()
    assert invoices.run(argparse.Namespace(by_rule=invoices.billing_month(PERIOD))) == 0
    embedded = _invoice_tables(capsys.readouterr().out)

    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path / "aws"))
    monkeypatch.delenv("BILLFLOW_LANDING_URI")
    report = tmp_path / "aws" / "invoices.txt"
    code = demo_aws.run(argparse.Namespace(landing=landing, by_rule=PERIOD, as_of=AS_OF, report=report))
    printed = capsys.readouterr().out

    assert code == 0
    assert printed.endswith(report.read_text())
    assert _invoice_tables(report.read_text()) == embedded
    # the final invoices of the month, numbered by the close, for the demo rule set's customers
    # the month's invoices, numbered and final after the close but for the unassigned accounts' (never locked)
    rows = [re.split(r"\s{2,}", line)[:5] for line in embedded.splitlines()[2:7]]
    assert rows == [
        ["2026-10", "acme", "Acme Corporation", "final", "BF-202610-0001"],
        ["2026-10", "globex", "Globex Corporation", "final", "BF-202610-0002"],
        ["2026-10", "initech", "Initech", "final", "BF-202610-0003"],
        ["2026-10", "umbrella", "Umbrella Corporation", "final", "BF-202610-0004"],
        ["2026-10", "unassigned", "Unassigned accounts", "provisional", "-"],
    ]

"""koku's final / not-final pair of one CUR month drives finalisation: provisional until final, then locked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billflow.rules import project_with_rules
from billflow_dev.csv_cur import land_csv_as_legacy_delivery
from tests.conftest import reused_home
from tests.fixtures import EXTERNAL
from tests.runs import close, load

KOKU = EXTERNAL / "koku"
AFTER_THE_MONTH = date(2023, 7, 15)
# koku's CUR is billed in NOK: its accounts (0099999999999 in the final file, 9999999999999 in the not-final
# one) belong to nordic, invoiced in NOK at cost (amortized), in this rule set
RULES = Path(__file__).resolve().parent / "koku_rules"


@pytest.fixture
def home(tmp_path_factory, monkeypatch, airflow_db):
    home = reused_home(tmp_path_factory)
    monkeypatch.setenv("BILLFLOW_HOME", str(home))
    for name in ("LANDING_URI", "STAGED_URI", "WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    monkeypatch.setenv("BILLFLOW_DBT_PROJECT_DIR", str(project_with_rules(RULES, home / "dbt_project")))
    return home


def invoices(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        return con.execute(
            "select customer_id, strftime(billing_period, '%Y-%m'), status, invoice_number, total_amount, is_cur_final "
            "from billing.invoices order by all"
        ).fetchall()


def test_a_month_whose_cur_is_not_final_gives_provisional_invoices_that_the_close_leaves_open(home):
    land_csv_as_legacy_delivery(
        KOKU / "2023-06-01-not-final.csv", home / "landing", report_name="koku", assembly_id="not-final"
    )

    report = load()
    locked = close(as_of=AFTER_THE_MONTH)

    assert [c["raw_rows"] for c in report.returns["plan_release"]["candidates"]] == [3]
    assert report.returns["release"] == ["2023-06"]
    assert locked == []
    # three SavingsPlanCoveredUsage hours, amortized at their effective cost 0.1 each
    assert invoices(home) == [("nordic", "2023-06", "provisional", None, Decimal("0.30"), False)]


def test_a_final_month_is_locked_once_it_is_over_and_stays_locked(home):
    land_csv_as_legacy_delivery(KOKU / "2023-06-01.csv", home / "landing", report_name="koku", assembly_id="final")
    load()

    assert close(as_of=date(2023, 6, 30)) == []  # the month is not over yet
    locked = close(as_of=AFTER_THE_MONTH)
    again = close(as_of=date(2023, 7, 16))

    assert locked == ["locked BF-202306-0001 nordic 2023-06"]
    assert again == []
    assert invoices(home) == [("nordic", "2023-06", "final", "BF-202306-0001", Decimal("0.30"), True)]

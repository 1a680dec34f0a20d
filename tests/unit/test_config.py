"""Settings from the environment: BILLFLOW_REPORT_NAMES picks the reports to load; connection ids are checked."""

import pytest

from billflow.config import load_settings
from billflow.formats.identifiers import IdentifierError


def test_report_names_are_the_comma_separated_names_of_billflow_report_names(monkeypatch):
    monkeypatch.setenv("BILLFLOW_REPORT_NAMES", " acme-cur, billflow-export-222222222222,,")

    assert load_settings().report_names == frozenset({"acme-cur", "billflow-export-222222222222"})


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_report_names_means_every_report(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("BILLFLOW_REPORT_NAMES", raising=False)
    else:
        monkeypatch.setenv("BILLFLOW_REPORT_NAMES", value)

    assert load_settings().report_names is None


def test_a_report_name_with_a_semicolon_in_billflow_report_names_is_refused(monkeypatch):
    monkeypatch.setenv("BILLFLOW_REPORT_NAMES", "acme-cur,acme;cur")

    with pytest.raises(IdentifierError) as caught:
        load_settings()

    assert str(caught.value) == (
        "BILLFLOW_REPORT_NAMES entry 'acme;cur' is not accepted: a report name is 1 to 128 letters, digits, '.', "
        "'-' or '_', starting with a letter or digit, without '..'; rename the report"
    )


def test_the_portal_mysql_connection_is_an_airflow_connection_id_or_unset(monkeypatch):
    monkeypatch.delenv("BILLFLOW_PORTAL_MYSQL_CONN_ID", raising=False)
    assert load_settings().portal_mysql_conn_id is None

    monkeypatch.setenv("BILLFLOW_PORTAL_MYSQL_CONN_ID", " billflow_portal ")
    assert load_settings().portal_mysql_conn_id == "billflow_portal"

    monkeypatch.setenv("BILLFLOW_PORTAL_MYSQL_CONN_ID", "portal; drop table invoices")
    with pytest.raises(ValueError, match="is not an Airflow connection id"):
        load_settings()

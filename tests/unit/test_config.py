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


def test_the_redshift_warehouse_settings_have_defaults_and_refuse_what_cannot_be_a_name(monkeypatch):
    for name in ("WAREHOUSE_CONN_ID", "SPECTRUM_GLUE_DATABASE", "SPECTRUM_SCHEMA", "SPECTRUM_IAM_ROLE"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    settings = load_settings()
    assert (settings.warehouse_conn_id, settings.spectrum_glue_database, settings.spectrum_schema) == (
        None,
        "billflow_staged",
        "spectrum",
    )
    assert settings.spectrum_iam_role is None

    monkeypatch.setenv("BILLFLOW_SPECTRUM_IAM_ROLE", "arn:aws:iam::123456789012:role/billflow-spectrum")
    assert load_settings().spectrum_iam_role == "arn:aws:iam::123456789012:role/billflow-spectrum"
    refused = {
        "WAREHOUSE_CONN_ID": ("redshift;drop", "is not an Airflow connection id"),
        "SPECTRUM_GLUE_DATABASE": ("Staged-DB", "a Glue database name is a-z, 0-9 and _"),
        "SPECTRUM_SCHEMA": ("spectrum; drop schema marts", "a schema name here is a-z, 0-9 and _"),
        "SPECTRUM_IAM_ROLE": ("arn:aws:iam::123:role/x' or '1", "is not an IAM role ARN"),
    }
    for name, (value, message) in refused.items():
        with monkeypatch.context() as patch:
            patch.setenv(f"BILLFLOW_{name}", value)
            with pytest.raises(ValueError, match=message):
                load_settings()

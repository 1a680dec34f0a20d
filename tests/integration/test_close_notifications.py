"""The close tells people by e-mail what they must act on: invoices it could not lock and cost on no
customer. Sent through the Airflow SMTP provider's notifier to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from datetime import date
from decimal import Decimal
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from billflow.billing.close import BlockedInvoice, CloseResult, LockedInvoice, UnassignedCost
from billflow.config import load_settings
from billflow.orchestration import steps

SEPT = date(2026, 9, 1)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch):
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": controller.port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "billflow@example.com", "retry_limit": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_BILLFLOW_SMTP", json.dumps(connection))
    monkeypatch.setenv("BILLFLOW_NOTIFY_CONN_ID", "billflow_smtp")
    monkeypatch.setenv("BILLFLOW_NOTIFY_TO", "finance@example.com, ops@example.com")
    yield box
    controller.stop()


def body_lines(message) -> list[str]:
    html = message.get_body(("html",)).get_content()
    return html.removeprefix("<pre>").strip().removesuffix("</pre>").splitlines()


def test_invoices_not_locked_and_unassigned_cost_are_emailed_and_fail_the_close(inbox):
    result = CloseResult(
        locked=[LockedInvoice("acme", SEPT, "BF-202609-0001")],
        blocked=[BlockedInvoice("globex", SEPT, "no fx rate for EUR in 2026-09: add it to the rule set's fx_rates")],
        unassigned=[UnassignedCost("111111111111", SEPT, Decimal("12.3400000000"), Decimal("10"))],
    )

    with pytest.raises(steps.InvoicesNotLocked) as failure:
        steps.report_close(load_settings(), result)

    assert str(failure.value) == (
        "1 invoices were not locked:\n"
        "  - globex 2026-09: no fx rate for EUR in 2026-09: add it to the rule set's fx_rates"
    )
    [(recipients, message)] = inbox.messages
    assert recipients == ["finance@example.com", "ops@example.com"]
    assert message["From"] == "billflow@example.com"
    assert message["Subject"] == "billflow close 2026-09: 1 invoices not locked, unassigned cost on 1 payer months"
    assert body_lines(message) == [
        "not locked: globex 2026-09: no fx rate for EUR in 2026-09: add it to the rule set&#x27;s fx_rates",
        "unassigned cost of payer 111111111111 2026-09: 12.34 (above the limit of 10)",
        "locked BF-202609-0001 acme 2026-09",
    ]


def test_unassigned_cost_under_the_limit_is_emailed_and_the_close_succeeds(inbox):
    result = CloseResult(
        locked=[LockedInvoice("acme", SEPT, "BF-202609-0001"), LockedInvoice("initech", SEPT, "BF-202609-0002")],
        blocked=[],
        unassigned=[UnassignedCost("222222222222", SEPT, Decimal("-3.5000000000"), None)],
    )

    lines = steps.report_close(load_settings(), result)

    assert lines == [
        "locked BF-202609-0001 acme 2026-09",
        "locked BF-202609-0002 initech 2026-09",
        "unassigned cost of payer 222222222222 2026-09: -3.5",
    ]
    [(_, message)] = inbox.messages
    assert message["Subject"] == "billflow close 2026-09: unassigned cost on 1 payer months"
    assert body_lines(message)[0] == "unassigned cost of payer 222222222222 2026-09: -3.5"


def test_a_close_with_nothing_to_act_on_sends_nothing(inbox):
    result = CloseResult(locked=[LockedInvoice("acme", SEPT, "BF-202609-0001")], blocked=[], unassigned=[])

    assert steps.report_close(load_settings(), result) == ["locked BF-202609-0001 acme 2026-09"]
    assert inbox.messages == []


def test_without_a_notifier_the_message_is_logged_and_says_nobody_was_told(monkeypatch, caplog):
    monkeypatch.delenv("BILLFLOW_NOTIFY_CONN_ID", raising=False)
    monkeypatch.delenv("BILLFLOW_NOTIFY_TO", raising=False)
    result = CloseResult(
        locked=[], blocked=[], unassigned=[UnassignedCost("111111111111", SEPT, Decimal("1.00"), None)]
    )

    with caplog.at_level(logging.WARNING, logger="billflow.orchestration.notify"):
        steps.report_close(load_settings(), result)

    assert [record.getMessage() for record in caplog.records] == [
        "billflow close 2026-09: unassigned cost on 1 payer months\nunassigned cost of payer 111111111111 2026-09: 1",
        "nobody was told: set BILLFLOW_NOTIFY_CONN_ID and BILLFLOW_NOTIFY_TO to send this by e-mail",
    ]


def test_an_unreachable_mail_server_fails_the_close_visibly(monkeypatch, inbox):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLFLOW_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": free_port(),  # nothing listens there
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "billflow@example.com",
                    "retry_limit": 0,
                    "timeout": 5,
                },
            }
        ),
    )
    result = CloseResult(locked=[], blocked=[], unassigned=[UnassignedCost("111111111111", SEPT, Decimal("1"), None)])

    with pytest.raises(ConnectionRefusedError):
        steps.report_close(load_settings(), result)


@pytest.mark.parametrize(
    ("conn_id", "to", "message"),
    [
        ("billflow_smtp", "", "BILLFLOW_NOTIFY_CONN_ID is set but BILLFLOW_NOTIFY_TO names nobody to tell"),
        (
            "billflow_smtp",
            "finance@example.com, not an address",
            "BILLFLOW_NOTIFY_TO: 'not an address' is not an e-mail address",
        ),
        ("smtp;drop", "finance@example.com", "BILLFLOW_NOTIFY_CONN_ID='smtp;drop' is not an Airflow connection id"),
    ],
)
def test_notifier_settings_are_checked(monkeypatch, conn_id, to, message):
    monkeypatch.setenv("BILLFLOW_NOTIFY_CONN_ID", conn_id)
    monkeypatch.setenv("BILLFLOW_NOTIFY_TO", to)

    with pytest.raises(ValueError) as error:
        load_settings()

    assert str(error.value) == message

"""Telling people what they must act on, through the Airflow SMTP provider's notifier.

The connection (BILLFLOW_NOTIFY_CONN_ID) holds the server, credentials and `from_email`; BILLFLOW_NOTIFY_TO
names the recipients. Without a connection the message goes to the task log only.
"""

from __future__ import annotations

import html
import logging

from billflow.config import Settings

log = logging.getLogger(__name__)


def notify_people(settings: Settings, subject: str, lines: list[str]) -> bool:
    """Send `lines` under `subject`; False when no notifier is configured (the text is logged either way)."""
    log.warning("%s\n%s", subject, "\n".join(lines))
    if settings.notify_conn_id is None:
        log.warning("nobody was told: set BILLFLOW_NOTIFY_CONN_ID and BILLFLOW_NOTIFY_TO to send this by e-mail")
        return False
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    # given as finished text: notify() renders only the fields left empty, so no value here is a template
    notifier = SmtpNotifier(
        to=list(settings.notify_to),
        subject=subject,
        html_content="<pre>" + html.escape("\n".join(lines)) + "</pre>",
        smtp_conn_id=settings.notify_conn_id,
    )
    notifier.notify({})
    log.info("told %s through connection %s", ", ".join(settings.notify_to), settings.notify_conn_id)
    return True

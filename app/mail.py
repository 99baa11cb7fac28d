"""Outgoing e-mail, always sent by a job on the `default` queue.

With MAIL_SERVER unset (the embedded default) the message is written to the
log instead, so a password-reset link is never lost on a laptop install.
"""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from app.jobs import enqueue

log = logging.getLogger(__name__)


def send_email(to: str, subject: str, body: str, creator_id=None) -> None:
    enqueue(deliver_email, to, subject, body, str(creator_id) if creator_id else None)


def deliver_email(to: str, subject: str, body: str, creator_id: str | None = None) -> str:
    """RQ job: send one e-mail over SMTP, or log it when no server is set."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        log.info(
            "e-mail (no MAIL_SERVER set, logged instead of sent)",
            extra={"to": to, "subject": subject, "body": body, "creator_id": creator_id},
        )
        return "logged"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config["MAIL_FROM"], to, subject
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)
    return "sent"

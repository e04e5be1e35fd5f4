"""Outgoing mail for one organisation: sent by SMTP, or for a training sandbox kept in its mailbox.

Callers build the message as for a real centre and hand it here, so a trainee's notice goes
through every step a real one does except leaving the building."""

from __future__ import annotations

from django.core.mail import EmailMessage

from haven.web.accounts.models import Organisation

from .models import MailKind, SandboxMail


def is_sandbox(organisation_id: int | None) -> bool:
    return (
        organisation_id is not None and Organisation.objects.filter(pk=organisation_id, sandbox=True).exists()
    )


def deliver(message: EmailMessage, *, organisation_id: int | None, kind: str) -> None:
    """Send ``message`` (errors propagate, as from ``EmailMessage.send``), unless the organisation
    is a sandbox: then keep it in the sandbox's mailbox and send nothing; a notice to the practice
    site's abuse contact is acted on and answered (``practice.handle_notice``)."""
    if organisation_id is None or not is_sandbox(organisation_id):
        message.send(fail_silently=False)
        return
    mail = SandboxMail.objects.create(
        organisation_id=organisation_id,
        kind=kind,
        sender=str(message.from_email or "")[:300],
        recipients=", ".join(message.to + message.cc + message.bcc)[:1000],
        subject=str(message.subject)[:300],
        body=str(message.body),
        attachments=[str(a[0]) for a in message.attachments if isinstance(a, tuple) and a[0]],
        message_id=str(message.extra_headers.get("Message-ID", ""))[:300],
    )
    # The practice site's abuse team reads what reaches it, and answers at once.
    from .practice import CONTACT, handle_notice

    if kind == MailKind.NOTICE and CONTACT in message.to:
        handle_notice(Organisation.objects.get(pk=organisation_id), mail)

"""E-mails whose text must reach people exactly as written (links to open, codes to type)."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage as EmailMessage_
from email.message import Message
from email.policy import Policy

from django.core.mail import EmailMessage


class PlainTextEmail(EmailMessage):
    """A plain-text e-mail whose body travels as 8-bit UTF-8, each line as written.

    Left to Python's choice, a body with a line longer than 78 characters goes out
    quoted-printable: a long link is cut with ``=`` soft breaks and its ``=`` become ``=3D``,
    so the link printed by the console backend (and shown by any reader that does not decode
    the body) no longer opens. Lines here stay far below the 998 characters SMTP allows.
    """

    def message(
        self, *, policy: Policy[Message[str, str]] | None = email.policy.default
    ) -> EmailMessage_:
        message = super().message(policy=policy)
        message.set_content(str(self.body), subtype="plain", charset="utf-8", cte="8bit")
        return message

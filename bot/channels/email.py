"""Email (smtplib): one multipart/alternative message (plain text + HTML) per recipient."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate

from bot.channels.base import NO_HOOKS, Channel, Part, SendHooks
from bot.config import Config, EmailConfig
from bot.digest import Digest
from bot.errors import DeliveryError
from bot.render import context, environment, render, subject

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class EmailChannel(Channel):
    """An SMTP server (`security`: none, starttls or ssl; AUTH only when a username is set)."""

    name = "email"
    max_length = 10_000_000  # bytes of one message; servers commonly refuse more
    ordered = False  # one recipient's failure must not hold back the others

    settings: EmailConfig

    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """One part per recipient, each the same message with its own To and Message-ID."""
        text = render(digest, "text", language, config)
        html = environment(autoescape=True).get_template("email.html.j2").render(context(digest, language, config))
        title = subject(digest, language)
        return [Part(rcpt, {"to": rcpt, "subject": title, "text": text, "html": html, "week": str(digest.week)})
                for rcpt in self.settings.recipients]  # fmt: skip

    def message(self, payload: dict[str, str]) -> EmailMessage:
        """The MIME message of one part; its Message-ID is stable per (week, recipient)."""
        domain = self.settings.sender.rpartition("@")[2] or "localhost"
        digest_id = hashlib.sha256(f"{payload['week']}|{payload['to']}".encode()).hexdigest()[:20]
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = payload["to"]
        msg["Subject"] = payload["subject"]
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{payload['week']}.{digest_id}@{domain}>"
        msg["List-Id"] = f"Paper Feed Bot <paper-feed-bot.{domain}>"
        msg.set_content(payload["text"])
        msg.add_alternative(payload["html"], subtype="html")
        return msg

    def check(self) -> str:
        """Connect, negotiate TLS and log in, then quit without sending."""
        try:
            with self._connect() as smtp:
                smtp.noop()
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{self.settings.host}: {type(error).__name__}: {error}") from None
        login = f" as {self.settings.username}" if self.settings.username else ""
        return f"{self.settings.host} ({self.settings.security}){login}, {len(self.settings.recipients)} recipient(s)"

    def send(self, part: Part, hooks: SendHooks = NO_HOOKS) -> str:
        """Send to one recipient; retry what the server refused for now (4xx) or a connection that failed
        before the message was handed over. A connection lost or timed out while the message was being
        handed over may have delivered it: that is ambiguous, never resent in the same run."""
        msg = self.message(part.payload)
        for attempt in range(self.settings.max_retries + 1):
            try:
                with self._connect() as smtp:
                    hooks.before_request()
                    try:
                        smtp.send_message(msg, to_addrs=[part.payload["to"]])
                    except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as error:
                        # (a refusal with a code, SMTPResponseException, is an answer: handled below)
                        raise DeliveryError(f"{part.id}: connection lost while sending ({error}); it may have "
                                            "arrived", ambiguous=True) from None  # fmt: skip
                return str(msg["Message-ID"])
            except smtplib.SMTPRecipientsRefused as error:
                code, reason = next(iter(error.recipients.values()))
                if code < 500 and attempt < self.settings.max_retries:
                    hooks.refused("not accepted yet, retrying")
                    time.sleep(self.settings.backoff_seconds * 2**attempt)
                    continue
                raise DeliveryError(f"{part.id} refused: {code} {reason.decode(errors='replace')}") from None
            except smtplib.SMTPResponseException as error:
                if error.smtp_code < 500 and attempt < self.settings.max_retries:
                    hooks.refused("not accepted yet, retrying")
                    time.sleep(self.settings.backoff_seconds * 2**attempt)
                    continue
                message = (
                    error.smtp_error if isinstance(error.smtp_error, str) else error.smtp_error.decode(errors="replace")
                )
                raise DeliveryError(f"{part.id}: SMTP {error.smtp_code} {message}") from None
            except (smtplib.SMTPException, OSError) as error:
                if attempt < self.settings.max_retries:
                    hooks.refused("not accepted yet, retrying")
                    time.sleep(self.settings.backoff_seconds * 2**attempt)
                    continue
                raise DeliveryError(f"{part.id}: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        port = settings.port or _DEFAULT_PORTS[settings.security]
        context = ssl.create_default_context(cafile=settings.ca_file)
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, port, timeout=settings.timeout_seconds)
            if settings.security == "starttls":
                smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        return smtp

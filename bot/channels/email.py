"""Email (smtplib): one multipart/alternative message (plain text + HTML) per recipient.

Readers (`bot subscribers add`) get their own filtered copy with `List-Unsubscribe` (a mailto: the sender's
address, subject `unsubscribe <token>`; plus `channels.email.unsubscribe_url` with `List-Unsubscribe-Post`
for one-click unsubscribe, RFC 8058, when the operator runs such an endpoint) and an unsubscribe line.
One SMTP connection is kept for a run's messages, checked with NOOP before each reuse.
"""

from __future__ import annotations

import contextlib
import hashlib
import html as _html
import smtplib
import ssl
import time
from collections.abc import Callable
from email import policy as _policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote

from bot.channels.base import NO_HOOKS, Channel, Part, Reader, SendHooks
from bot.config import Config, EmailConfig
from bot.digest import Digest
from bot.errors import DeliveryError
from bot.render import context, environment, render, subject


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each made once: `HeaderRegistry` builds a new class for every header
    set, a third of the work of a reader's message."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._made:
            self._made[key] = super().__getitem__(name)
        return self._made[key]


_POLICY = _policy.default.clone(header_factory=_HeaderClasses())
_WIRE = _POLICY.clone(linesep="\r\n")  # smtplib turns \n into \r\n only in str messages, not in bytes
_WIRE_UTF8 = _WIRE.clone(utf8=True)  # for a reader whose address is not ASCII (RFC 6531, SMTPUTF8)

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
UNSUBSCRIBE = {
    "ko": "구독 해지: {link}",
    "en": "Unsubscribe: {link}",
    "zh": "退订：{link}",
}


class EmailChannel(Channel):
    """An SMTP server (`security`: none, starttls or ssl; AUTH only when a username is set)."""

    name = "email"
    max_length = 10_000_000  # bytes of one message; servers commonly refuse more
    ordered = False  # one recipient's failure must not hold back the others

    settings: EmailConfig

    def __init__(self, settings: EmailConfig) -> None:
        super().__init__(settings)
        self._smtp: smtplib.SMTP | None = None

    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """One part per recipient, each the same message with its own To and Message-ID."""
        body = self.body(digest, language, config)
        return [Part(rcpt, {**body, "to": rcpt}) for rcpt in self.settings.recipients]

    @property
    def has_readers(self) -> bool:
        """Readers are added with `bot subscribers add`."""
        return True

    def reader_parts(self, digest: Digest, language: str, config: Config) -> Callable[[Reader], list[Part]]:
        """One message per reader, with their unsubscribe links."""
        body = self.body(digest, language, config)
        return lambda reader: [Part(reader.address, {**body, "to": reader.address, "token": reader.token})]

    def body(self, digest: Digest, language: str, config: Config) -> dict[str, str]:
        """Subject, plain text and HTML of the digest (pure)."""
        text = render(digest, "text", language, config)
        html = environment(autoescape=True).get_template("email.html.j2").render(context(digest, language, config))
        return {"subject": subject(digest, language), "text": text, "html": html, "week": str(digest.week),
                "language": language}  # fmt: skip

    def message(self, payload: dict[str, str]) -> EmailMessage:
        """The MIME message of one part; its Message-ID is stable per (week, recipient)."""
        # The address's domain, whatever the sender's form ("Paper Feed Bot <bot@example.org>" included).
        domain = parseaddr(self.settings.sender)[1].rpartition("@")[2] or "localhost"
        digest_id = hashlib.sha256(f"{payload['week']}|{payload['to']}".encode()).hexdigest()[:20]
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self.settings.sender
        msg["To"] = payload["to"]
        msg["Subject"] = payload["subject"]
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{payload['week']}.{digest_id}@{domain}>"
        msg["List-Id"] = f"Paper Feed Bot <paper-feed-bot.{domain}>"
        text, html = payload["text"], payload["html"]
        if payload.get("token"):
            links = self.unsubscribe_links(payload["token"])
            msg["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in links)
            if self.settings.unsubscribe_url:
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            line = UNSUBSCRIBE[payload.get("language", "en")].format(link=links[-1])
            text += f"\n--\n{line}\n"
            html = html.replace("</body>", f'<p style="color: #666">{_html.escape(line)}</p>\n</body>')
        # base64, not the quoted-printable Python picks for non-ASCII text: that encoder is pure Python
        msg.set_content(text, cte="base64")
        msg.add_alternative(html, subtype="html", cte="base64")
        return msg

    def unsubscribe_links(self, token: str) -> list[str]:
        """The mailto link (always) and the one-click URL (when configured), for a reader's token."""
        address = parseaddr(self.settings.sender)[1]
        links = [f"mailto:{address}?subject={quote(f'unsubscribe {token}')}"]
        url = self.settings.unsubscribe_url
        if url and "{token}" in url:  # service.public_url: the bot's own endpoint
            links.append(url.replace("{token}", quote(token)))
        elif url:
            links.append(f"{url}{'&' if '?' in url else '?'}token={quote(token)}")
        return links

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
        utf8 = not part.payload["to"].isascii()
        reader = bool(part.payload.get("token"))
        # Encoded before the pending mark: a kill while encoding loses nothing.
        data = msg.as_bytes(policy=_WIRE_UTF8 if utf8 else _WIRE)
        for attempt in range(self.settings.max_retries + 1):
            try:
                smtp = self._session()
                smtp.ehlo_or_helo_if_needed()
                if utf8 and not smtp.has_extn("smtputf8"):
                    raise DeliveryError(f"{part.id} refused: the address is not ASCII and {self.settings.host} "
                                        "does not offer SMTPUTF8", reader=True)  # fmt: skip
                self._envelope(smtp, part.payload["to"], utf8)
                hooks.before_request()  # sender and recipient accepted: only the message itself is left to send
                try:
                    code, answer = smtp.data(data)
                except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as error:
                    # (a refusal with a code, SMTPResponseException, is an answer: handled below)
                    self._drop()
                    raise DeliveryError(f"{part.id}: connection lost while sending ({error}); it may have "
                                        "arrived", ambiguous=True) from None  # fmt: skip
                if code != 250:  # the message was refused after it was sent (smtplib returns, not raises)
                    raise smtplib.SMTPDataError(code, answer)
                return str(msg["Message-ID"])
            except smtplib.SMTPRecipientsRefused as error:  # the connection stays usable (smtplib sent RSET)
                code, reason = next(iter(error.recipients.values()))
                # A reader's refusal for now (450 mailbox busy) is asked again after the other readers, not
                # waited for here; the operator's own recipients are waited for.
                if code < 500 and attempt < self.settings.max_retries and not reader:
                    self._retry_later(hooks, attempt)
                    continue
                # A reader's mailbox that does not exist (550/551/553) is not tried again every week.
                gone = code in (550, 551, 553) and reader
                raise DeliveryError(f"{part.id} refused: {code} {reason.decode(errors='replace')}", gone=gone,
                                    reader=reader, later=code < 500) from None  # fmt: skip
            except smtplib.SMTPResponseException as error:
                self._drop()
                if error.smtp_code < 500 and attempt < self.settings.max_retries:
                    self._retry_later(hooks, attempt)
                    continue
                message = (
                    error.smtp_error if isinstance(error.smtp_error, str) else error.smtp_error.decode(errors="replace")
                )
                raise DeliveryError(f"{part.id}: SMTP {error.smtp_code} {message}") from None
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                if attempt < self.settings.max_retries:
                    self._retry_later(hooks, attempt)
                    continue
                raise DeliveryError(f"{part.id}: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    def _envelope(self, smtp: smtplib.SMTP, recipient: str, utf8: bool) -> None:
        """MAIL FROM and RCPT TO, as `send_message` does them, but apart from DATA: a failure here left
        nothing on its way, so the part is marked pending only for DATA (a kill before it loses nothing)."""
        sender = parseaddr(self.settings.sender)[1]
        code, answer = smtp.mail(sender, ["SMTPUTF8"] if utf8 else [])
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, answer, sender)
        code, answer = smtp.rcpt(recipient)
        if code not in (250, 251):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})

    def _retry_later(self, hooks: SendHooks, attempt: int) -> None:
        hooks.refused("not accepted yet, retrying")
        time.sleep(self.settings.backoff_seconds * 2**attempt)

    def _session(self) -> smtplib.SMTP:
        """The open connection if the server still answers NOOP, else a new one (TLS and login included)."""
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._smtp = self._connect()
        return self._smtp

    def _drop(self) -> None:
        """Forget the connection (closing its socket); the next send opens a new one."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        """Say QUIT on the open connection, if any."""
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._drop()

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

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.channels.email import EmailChannel
from bot.config import Config, EmailConfig
from bot.delivery import deliver
from bot.ledger import Ledger
from bot.store import Store
from tests.test_delivery import digest


def free_port() -> int:
    # aiosmtpd's Controller cannot bind port 0 (see the library notes).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps messages, refuses `refuse` permanently, answers `answers` (address → reply)
    and 451 `busy` times."""

    refuse: set[str] = field(default_factory=set)
    answers: dict[str, str] = field(default_factory=dict)
    busy: int = 0
    messages: list[Any] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # every RCPT address, in order

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.asked.append(address)
        if address in self.refuse:
            return "550 5.1.1 No such user"
        if address in self.answers:
            return self.answers[address]
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bot", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Mailbox, int, str]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticate)  # fmt: skip
    controller.start()
    yield mailbox, port, str(ca_file)
    controller.stop()


def channel(port: int, ca_file: str, recipients: list[str], password: str = "s3cret") -> EmailChannel:
    return EmailChannel(EmailConfig(host="127.0.0.1", port=port, security="starttls", username="bot", password=password,
                                    sender="digest@example.org", recipients=recipients, ca_file=ca_file,
                                    backoff_seconds=0, timeout_seconds=5))  # fmt: skip


def test_one_multipart_message_per_recipient_over_starttls_and_auth(
    smtp: tuple[Mailbox, int, str], tmp_path: Path
) -> None:
    mailbox, port, ca = smtp
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(
            Ledger(store), [channel(port, ca, ["a@example.org", "b@example.org"])], digest(20), "en", Config()
        )
    assert report.ok and report.sent == 2
    assert sorted(rcpts[0] for rcpts, _ in mailbox.messages) == ["a@example.org", "b@example.org"]
    _, msg = mailbox.messages[0]
    assert msg["Subject"] == "Paper digest: Week 1 of May 2023 (May 1–7)"
    assert msg["List-Id"] == "Paper Feed Bot <paper-feed-bot.example.org>"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]
    ids = {m["Message-ID"] for _, m in mailbox.messages}
    assert len(ids) == 2 and all(i.startswith("<2023-W18.") for i in ids)


def test_message_id_is_stable_per_week_and_recipient(smtp: tuple[Mailbox, int, str]) -> None:
    _, port, ca = smtp
    mail = channel(port, ca, ["a@example.org"])
    [part] = mail.parts(digest(2), "en", Config())
    assert mail.message(part.payload)["Message-ID"] == mail.message(part.payload)["Message-ID"]


def test_permanent_failure_for_one_recipient_does_not_stop_the_others(
    smtp: tuple[Mailbox, int, str], tmp_path: Path
) -> None:
    mailbox, port, ca = smtp
    mailbox.refuse = {"gone@example.org"}
    mailbox.busy = 1  # one transient 451 first: retried
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(
            Ledger(store), [channel(port, ca, ["gone@example.org", "c@example.org"])], digest(3), "ko", Config()
        )
    assert report.sent == 1 and len(report.failed) == 1
    assert "550" in report.failed[0]
    assert [rcpts for rcpts, _ in mailbox.messages] == [["c@example.org"]]


def test_wrong_password_is_a_clear_failure(smtp: tuple[Mailbox, int, str], tmp_path: Path) -> None:
    _, port, ca = smtp
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel(port, ca, ["a@example.org"], "nope")], digest(1), "ko", Config())
    assert not report.ok and "535" in report.failed[0]


def test_implicit_tls_and_plain_smtp_without_auth(tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    for security, kwargs in (("ssl", {"ssl_context": context}), ("none", {})):
        mailbox, port = Mailbox(), free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        try:
            settings = EmailConfig(host="127.0.0.1", port=port, security=security, sender="d@example.org",
                                   recipients=["a@example.org"], ca_file=str(ca_file), timeout_seconds=5)  # fmt: skip
            mail = EmailChannel(settings)
            assert "as " not in mail.check()  # no AUTH without a username
            with Store(tmp_path / f"{security}.json") as store:
                [report] = deliver(Ledger(store), [mail], digest(2), "zh", Config())
        finally:
            controller.stop()
        assert report.ok and len(mailbox.messages) == 1, security


def test_a_message_refused_after_data_is_a_failure_not_a_send(smtp: tuple[Mailbox, int, str], tmp_path: Path) -> None:
    mailbox, port, ca = smtp

    async def refuse(server: Any, session: Any, envelope: Any) -> str:
        return "554 5.6.0 Message rejected as spam"

    mailbox.handle_DATA = refuse  # type: ignore[method-assign]
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel(port, ca, ["a@example.org"])], digest(2), "en", Config())
    assert not report.ok and report.sent == 0 and "554" in report.line()

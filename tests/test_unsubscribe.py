"""Email unsubscribe that works: one-click (RFC 8058) against `bot run`'s endpoint, a confirming GET page, and
`bot subscribers remove --token` for the mailto."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Config
from bot.store import Store
from bot.subscribers import Subscribers
from bot.web import WebServer
from tests.test_email import free_port


def request(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Store, Config]]:
    port = free_port()
    config = Config.model_validate({"service": {"public_url": "https://bot.example.org",
                                                "listen": f"127.0.0.1:{port}"}})  # fmt: skip
    with Store(tmp_path / "s.json") as store:
        web = WebServer(config, store)
        web.start()
        try:
            yield f"http://127.0.0.1:{port}", store, config
        finally:
            web.stop()


def test_one_click_unsubscribes_a_get_only_asks_and_a_token_works_once(served: tuple[str, Store, Config]) -> None:
    base, store, config = served
    readers = Subscribers(store, config)
    ada = readers.add("email", "ada@example.org")
    bob = readers.add("email", "bob@example.org")
    status, page = request(f"{base}/unsubscribe/{ada.token}")  # a mail scanner following the link
    assert status == 200 and '<form method="post">' in page and "ada@example.org" in page
    assert readers.get("email", "ada@example.org") is not None  # a GET never unsubscribes
    status, page = request(f"{base}/unsubscribe/{ada.token}", b"List-Unsubscribe=One-Click")  # RFC 8058 POST
    assert status == 200 and "is unsubscribed" in page
    assert readers.get("email", "ada@example.org") is None and readers.get("email", "bob@example.org") is not None
    assert request(f"{base}/unsubscribe/{ada.token}", b"List-Unsubscribe=One-Click")[0] == 404  # used up
    assert request(f"{base}/unsubscribe/{bob.token}x", b"")[0] == 404  # a guess is no token
    assert request(f"{base}/unsubscribe/")[0] == 404


def test_readers_mail_carries_the_one_click_link_of_the_service(tmp_path: Path) -> None:
    from bot.channels import configured_channels

    config = Config.model_validate({
        "service": {"public_url": "https://bot.example.org/pfb"},
        "channels": {"email": {"host": "h", "sender": "Paper Feed Bot <bot@example.org>"}},
    })  # fmt: skip
    [email] = configured_channels(config)
    message = email.message({"to": "ada@example.org", "subject": "s", "text": "t", "html": "<p>t</p>",
                             "week": "2023-W18", "token": "T0k3n"})  # type: ignore[attr-defined]  # fmt: skip
    assert message["List-Unsubscribe"] == (
        "<mailto:bot@example.org?subject=unsubscribe%20T0k3n>, <https://bot.example.org/pfb/unsubscribe/T0k3n>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_subscribers_remove_acts_on_the_token_of_an_unsubscribe_mail(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 's.json'}\nsources:\n  feeds: []\n", encoding="utf-8")
    with Store(tmp_path / "s.json") as store:
        ada = Subscribers(store, Config()).add("email", "ada@example.org")
    runner = CliRunner()
    done = runner.invoke(cli, ["--config", str(config), "subscribers", "remove", "--token", ada.token])
    assert done.exit_code == 0 and "unsubscribed email:ada@example.org" in done.output
    again = runner.invoke(cli, ["--config", str(config), "subscribers", "remove", "--token", ada.token])
    assert again.exit_code == 1 and "no reader has this token" in again.output
    neither = runner.invoke(cli, ["--config", str(config), "subscribers", "remove"])
    assert neither.exit_code == 2 and "give a READER or --token" in neither.output

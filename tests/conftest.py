"""Shared fixtures: a loopback arXiv API and a config pointing every endpoint at loopback stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.chat_standins import SlackStandIn, TelegramStandIn
from tests.standins import ArxivStandIn, serve

Served = TypeVar("Served", ArxivStandIn, TelegramStandIn, SlackStandIn)


def _serving(standin: Served, path: str) -> Iterator[Served]:
    """Serve a stand-in on loopback for one test; its `.url` is the base URL the product is configured with."""
    with serve(standin.handle) as base:
        standin.url = base + path
        yield standin


@pytest.fixture
def arxiv_api() -> Iterator[ArxivStandIn]:
    """An arXiv API stand-in; `.url` is its query endpoint."""
    yield from _serving(ArxivStandIn(), "/api/query")


@pytest.fixture
def write_config(tmp_path: Path, arxiv_api: ArxivStandIn, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write a config.yaml in tmp_path (arXiv → stand-in, fast retries) plus extra YAML; returns its path.

    The extra YAML follows the `sources:` block, so it may add `  feeds:` or any top-level key.
    """
    monkeypatch.chdir(tmp_path)

    def write(extra: str = "") -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(
            f"store:\n  path: {tmp_path / 'store.json'}\n"
            "sources:\n  arxiv:\n"
            f"    api_url: {arxiv_api.url}\n    delay_seconds: 0\n    backoff_seconds: 0\n"
            "    timeout_seconds: 2\n    retries: 2\n" + ("" if "feeds:" in extra else "  feeds: []\n") + extra,
            # No test reaches the real Hugging Face feed the defaults name; tests add their own feeds.
            encoding="utf-8",
        )
        monkeypatch.setenv("BOT_CONFIG", str(path))
        return path

    return write


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    """A Telegram Bot API stand-in; `.url` is the `base_url` (…/bot)."""
    yield from _serving(TelegramStandIn(), "/bot")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    """A Slack Web API stand-in; `.url` is the `base_url` (…/api/)."""
    yield from _serving(SlackStandIn(), "/api/")

"""Calls to arXiv and to a model are bounded: a wall-clock deadline for the whole answer, a cap on its size after
gzip is undone."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bot.bounded import Body, TooLarge
from bot.config import ArxivConfig, LLMConfig
from bot.errors import ArxivOutageError
from bot.llm import llm_commentary
from bot.paper import Paper
from bot.sources.arxiv import fetch_week
from bot.store import Store
from bot.week import Week
from tests.standins import serve

BOMB = gzip.compress(b"\0" * 50_000_000)  # 49 KB on the wire, 50 MB unpacked


def drip(body: bytes, seconds_per_byte: float):  # type: ignore[no-untyped-def]
    """A server that sends its headers at once, then one byte every `seconds_per_byte`."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(seconds_per_byte)

    return handle


def bomb(handler: BaseHTTPRequestHandler) -> None:
    if handler.command == "POST":
        handler.rfile.read(int(handler.headers["Content-Length"]))
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(BOMB)))
    handler.end_headers()
    handler.wfile.write(BOMB)


def test_a_body_never_unpacks_past_its_cap() -> None:
    body = Body("test", 1_000_000, 60, "gzip")
    with pytest.raises(TooLarge, match="more than 1000000 bytes"):
        for start in range(0, len(BOMB), 65536):
            body.add(BOMB[start : start + 65536])
    assert sum(map(len, body._chunks)) <= 1_000_000
    plain = Body("test", 10, 60, "gzip")
    plain.add(gzip.compress(b"0123456789"))
    assert plain.content() == b"0123456789"


PAPER = Paper(key="2305.01115", title="KV caching", authors=("Ada",), abstract="We cache keys.",
              url="https://arxiv.org/abs/2305.01115", published=datetime(2023, 5, 2, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize("handler", [drip(b'{"choices": []}' * 10, 0.3), bomb], ids=["drip", "gzip bomb"])
def test_a_model_endpoint_that_drips_or_bombs_falls_back_within_the_timeout(
    handler: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with serve(handler) as base, Store(tmp_path / "s.json") as store:  # type: ignore[arg-type]
        config = LLMConfig(base_url=base, model="m", timeout_seconds=1, max_bytes=100_000)
        assert llm_commentary([PAPER], config, "en", 300, store, []) == {}
    assert time.monotonic() - started < 3  # the drip would take 45 s; the bomb would unpack 50 MB
    assert "fell back to the extractive commentary: 1 failed (" in caplog.text


@pytest.mark.parametrize("handler", [drip(b"<feed/>" * 20, 0.3), bomb], ids=["drip", "gzip bomb"])
def test_an_arxiv_answer_that_drips_or_bombs_is_a_failed_request(handler: object) -> None:
    started = time.monotonic()
    with serve(handler) as base:  # type: ignore[arg-type]
        config = ArxivConfig(api_url=f"{base}/api/query", delay_seconds=0, backoff_seconds=0, retries=1,
                             timeout_seconds=1, max_bytes=1_000_000)  # fmt: skip
        with pytest.raises(ArxivOutageError, match=r"failed 2 times \((timed out|TooLarge)\)"):
            fetch_week(Week.parse("2023-W18"), config)
    assert time.monotonic() - started < 6

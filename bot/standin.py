"""A loopback arXiv API: Atom pages with paging, `totalResults`, `id_list`, and scripted failures.

The tests and benches serve their weeks through it, and `bot demo` serves the recorded real week shipped with
the package, so the bot can be tried without network. It speaks the real protocol over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ATOM_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" \
xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/standin</id>
  <title>arXiv Query: {query}</title>
  <updated>2026-04-12T22:09:27Z</updated>
  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
"""


@dataclass
class Entry:
    """One arXiv API entry."""

    id: str
    title: str
    summary: str
    published: datetime
    authors: list[str] = field(default_factory=lambda: ["Ada Lovelace"])
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    version: int = 1

    def xml(self) -> str:
        """The entry as the arXiv API writes it."""
        stamp = self.published.strftime("%Y-%m-%dT%H:%M:%SZ")
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in self.authors)
        cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in self.categories)
        vid = f"{self.id}v{self.version}"
        return (
            f"  <entry>\n    <id>http://arxiv.org/abs/{vid}</id>\n    <title>{escape(self.title)}</title>\n"
            f"    <updated>{stamp}</updated>\n"
            f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n'
            f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf" title="pdf"/>\n'
            f"    <summary>{escape(self.summary)}</summary>\n    {cats}\n    <published>{stamp}</published>\n"
            f'    <arxiv:primary_category term="{self.categories[0]}"/>\n    {authors}\n  </entry>\n'
        )


def atom_page(entries: list[Entry], total: int, start: int, query: str = "") -> bytes:
    """A whole Atom response page."""
    head = ATOM_HEAD.format(query=escape(query), per_page=len(entries), total=total, start=start)
    return (head + "".join(e.xml() for e in entries) + "</feed>\n").encode()


# Abstracts shaped like a real arXiv week's off-topic majority: long, full of ML words (efficient, image,
# language, training, attention), yet about none of the tracked topics.
@dataclass
class ArxivStandIn:
    """An arXiv API at http://127.0.0.1:PORT/api/query: paging by start/max_results, scripted failures.

    `script` is consumed one item per request before normal service: an int is an HTTP status to answer
    with, "empty" an empty page (0 results), "hang" a response delayed past any client timeout, "garbled" a
    body that claims to be gzip and is not.
    """

    entries: list[Entry] = field(default_factory=list)
    others: list[Entry] = field(default_factory=list)  # outside the week's query; found by id_list only
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each request
    hang_seconds: float = 3.0
    gzip: bool = False  # compress answers for clients that accept gzip, as a web server in front of the API may
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        params = parse_qs(urlsplit(handler.path).query)
        self.requests.append(params)
        self.arrived.append(time.monotonic())
        action = self.script.pop(0) if self.script else None
        if action == "hang":
            time.sleep(self.hang_seconds)
        if action == "garbled":
            body = gzip.compress(b"")[:10] + b"\xff" * 20  # a gzip header, then no valid deflate block
            return _reply(handler, 200, body, "application/atom+xml", {"Content-Encoding": "gzip"})
        if isinstance(action, int):
            body = b"Rate exceeded." if action == 429 else b"Service Unavailable"
            return _reply(handler, action, body, "text/plain", {"Retry-After": "1"})
        start = int(params.get("start", ["0"])[0])
        size = int(params.get("max_results", ["100"])[0])
        ids = [i for i in params.get("id_list", [""])[0].split(",") if i]
        pool = [e for e in self.entries + self.others if e.id in ids] if ids else self.entries
        page = [] if action == "empty" else pool[start : start + size]
        total = 0 if action == "empty" else len(pool)
        body = atom_page(page, total, start, params.get("search_query", [""])[0])
        if self.gzip and "gzip" in handler.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            return _reply(handler, 200, body, "application/atom+xml; charset=utf-8", {"Content-Encoding": "gzip"})
        return _reply(handler, 200, body, "application/atom+xml; charset=utf-8")


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
           headers: dict[str, str] | None = None) -> None:  # fmt: skip
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
        handler.wfile.write(body)


def reply_json(handler: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
    """Answer with a JSON body."""
    _reply(handler, status, json.dumps(data).encode(), "application/json", headers)


@contextmanager
def serve(handle: Callable[[BaseHTTPRequestHandler], None], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Run a handler on a loopback port for the duration (over TLS with a server context); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real services: a client reuses its connection
        disable_nagle_algorithm = True  # headers and body go in two writes: don't hold the second for an ACK

        def do_GET(self) -> None:
            handle(self)

        def do_POST(self) -> None:
            handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    with running(ThreadingHTTPServer(("127.0.0.1", 0), Handler), tls) as url:
        yield url


@contextmanager
def running(server: ThreadingHTTPServer, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve in a background thread for the duration (over TLS with a server context); yields the base URL."""
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def recorded_week(path: str | Path, papers: int = 0) -> list[Entry]:
    """Entries from arXiv records in JSON lines, gzipped or not (`arxiv_id, title, abstract, categories, published`).

    With `papers` larger than the file, the records repeat under new ids (the same real abstracts), so a
    bench can measure a big week on real text.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        records = [json.loads(line) for line in file if line.strip()]
    entries = []
    for i in range(max(papers, len(records)) if papers else len(records)):
        record, copy = records[i % len(records)], i // len(records)
        primary = record.get("primary_category") or record["categories"][0]
        categories = [primary, *(c for c in record["categories"] if c != primary)]
        published = datetime.fromisoformat(record["published"].replace("Z", "+00:00"))
        key = record["arxiv_id"] if not copy else f"99{copy:02d}.{i % 100000:05d}"
        entries.append(Entry(key, record["title"], record["abstract"], published, categories=categories,
                             authors=record.get("authors") or []))  # fmt: skip
    return entries

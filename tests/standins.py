"""Loopback stand-ins for the remote services, speaking their real protocols over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
OTHER_TITLES = [
    "Graph Neural Networks for Molecular Property Prediction",
    "Robust Reinforcement Learning under Observation Noise",
    "Fairness-Aware Ranking for Recommender Systems",
    "Self-Supervised Speech Representations for Low-Resource Languages",
    "Causal Discovery from Irregularly Sampled Time Series",
]
OTHER_ABSTRACTS = [
    "Predicting molecular properties is central to drug discovery. Existing graph neural networks struggle with "
    "long-range interactions between atoms. In this paper, we propose an efficient message passing scheme that "
    "attends over all atom pairs and is trained with a contrastive objective on unlabeled molecules. Experiments "
    "on twelve benchmarks show that our method improves accuracy by 4.2% on average over strong baselines, while "
    "training is faster and uses less memory. We also analyse which chemical substructures the model relies on "
    "and release code and pretrained checkpoints to the community.",
    "Reinforcement learning agents deployed in the real world receive noisy observations from imperfect sensors. "
    "We study policy learning when image observations are corrupted at test time. We introduce a training scheme "
    "that perturbs observations adversarially and regularizes the value function, and we prove a bound on the "
    "performance gap. On continuous control tasks from pixels, our agents keep 90% of their return under heavy "
    "noise, where prior methods collapse. The approach is simple to implement and adds little compute.",
    "Recommender systems shape what millions of users see, and ranking models can amplify exposure disparities "
    "between item groups. We formulate fair ranking as constrained optimization and derive an efficient "
    "primal-dual algorithm with convergence guarantees. On three large datasets our method reduces exposure "
    "disparity by 35% with less than one percent loss in ranking quality. We further show that the learned "
    "policies transfer across user populations and discuss limitations of group fairness metrics.",
    "Speech technology remains out of reach for most of the world's languages because labelled data are scarce. "
    "We pretrain self-supervised speech representations on 10,000 hours of untranscribed audio in 40 languages "
    "and fine-tune them with as little as one hour of transcribed speech. Our models reduce word error rates by "
    "a third compared to monolingual baselines, and we find that typologically related languages help each "
    "other most. We release the models and a benchmark for low-resource language technology.",
    "Many scientific time series are sampled irregularly, which breaks the assumptions of classical causal "
    "discovery methods. We propose a continuous-time structural model whose parameters are inferred with "
    "neural ordinary differential equations, and prove identifiability under mild conditions. On synthetic and "
    "climate data, our method recovers causal graphs more accurately than discretization-based baselines, and "
    "it scales to hundreds of variables. We discuss how the approach can guide experimental design.",
]


def synthetic_week(n: int, monday: datetime, topical_every: int = 10) -> list[Entry]:
    """n entries spread over a week; every `topical_every`-th one is about a tracked topic."""
    topical = [
        (
            "Efficient Diffusion Models for Text-to-Image Generation",
            "We propose a latent diffusion model "
            "that samples 4x faster. Denoising diffusion models are costly; our method reduces steps.",
        ),
        (
            "4-bit Quantization of Large Language Models",
            "We introduce a post-training quantization method for "
            "LLMs that keeps accuracy at 4-bit weights and reduces memory by 70%.",
        ),
        (
            "A Vision-Language Model for Visual Question Answering",
            "We present a multimodal large language "
            "model that aligns image and text features; it outperforms prior vision-language models on VQA.",
        ),
        (
            "Linear Attention Transformers for Long Context Language Models",
            "We propose a linear attention "
            "mechanism with sub-quadratic complexity, enabling 128k tokens with 3x lower latency.",
        ),
    ]
    entries = []
    for i in range(n):
        when = monday + timedelta(seconds=int(i * 7 * 86400 / max(n, 1)))
        if i % topical_every == 0:
            title, summary = topical[(i // topical_every) % len(topical)]
            title = f"{title} {i}"
        else:
            title = f"{OTHER_TITLES[i % len(OTHER_TITLES)]}, Part {i}"
            summary = OTHER_ABSTRACTS[i % len(OTHER_ABSTRACTS)]
        entries.append(Entry(f"{monday:%y%m}.{i:05d}", title, summary, when, authors=["Ada Lovelace", f"B. {i}"]))
    return entries


@dataclass
class ArxivStandIn:
    """An arXiv API at http://127.0.0.1:PORT/api/query: paging by start/max_results, scripted failures.

    `script` is consumed one item per request before normal service: an int is an HTTP status to answer
    with, "empty" an empty page (0 results), "hang" a response delayed past any client timeout.
    """

    entries: list[Entry] = field(default_factory=list)
    others: list[Entry] = field(default_factory=list)  # outside the week's query; found by id_list only
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    hang_seconds: float = 3.0
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        params = parse_qs(urlsplit(handler.path).query)
        self.requests.append(params)
        action = self.script.pop(0) if self.script else None
        if action == "hang":
            time.sleep(self.hang_seconds)
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
def serve(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """Run a handler on a loopback port for the duration; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handle(self)

        def do_POST(self) -> None:
            handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def week_monday(week: str) -> datetime:
    """Monday 00:00 UTC of an ISO week string."""
    year, number = week.split("-W")
    return datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)


def recorded_week(path: str, papers: int = 0) -> list[Entry]:
    """Entries from arXiv records in JSON lines (`arxiv_id, title, abstract, categories, published`).

    With `papers` larger than the file, the records repeat under new ids (the same real abstracts), so a
    bench can measure a big week on real text.
    """
    with open(path, encoding="utf-8") as file:
        records = [json.loads(line) for line in file if line.strip()]
    entries = []
    for i in range(max(papers, len(records)) if papers else len(records)):
        record, copy = records[i % len(records)], i // len(records)
        primary = record.get("primary_category") or record["categories"][0]
        categories = [primary, *(c for c in record["categories"] if c != primary)]
        published = datetime.fromisoformat(record["published"].replace("Z", "+00:00"))
        key = record["arxiv_id"] if not copy else f"99{copy:02d}.{i % 100000:05d}"
        entries.append(Entry(key, record["title"], record["abstract"], published, categories=categories,
                             authors=record.get("authors") or ["Anonymous"]))  # fmt: skip
    return entries


def main() -> None:
    """Serve a week from the command line (used by the benches); prints the URL, then the request count.

    standins WEEK --synthetic N        N synthetic papers
    standins WEEK --records FILE [--papers N]   recorded arXiv records, repeated up to N papers
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("week")
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--records")
    parser.add_argument("--papers", type=int, default=0)
    args = parser.parse_args()
    if args.records:
        entries = recorded_week(args.records, args.papers)
    else:
        entries = synthetic_week(args.synthetic, week_monday(args.week))
    standin = ArxivStandIn(entries=entries)
    with serve(standin.handle) as url:
        print(url, flush=True)
        sys.stdin.read()
    print(len(standin.requests), flush=True)


if __name__ == "__main__":
    main()

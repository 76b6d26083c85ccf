import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from bot.config import FeedConfig
from bot.sources.feeds import canonical_link, fetch_hf_daily, fetch_rss
from bot.week import Week
from tests import feed_samples
from tests.standins import serve


@dataclass
class FeedServer:
    """Serves feed bodies by path, with ETag / 304 support and a request log."""

    bodies: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        self.seen.append((handler.path, handler.headers.get("If-None-Match")))
        status, ctype, body = self.bodies.get(path, (404, "text/plain", "not found"))
        if path == "/hf":
            body = feed_samples.HF_DAY if "date=2023-05-02" in handler.path else "[]"
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_response(304)
            handler.end_headers()
            return
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("ETag", '"v1"')
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer({
        "/rss": (200, "application/rss+xml", feed_samples.RSS),
        "/atom": (200, "application/atom+xml", feed_samples.ATOM),
        "/arxiv": (200, "application/rss+xml", feed_samples.ARXIV_RSS),
        "/broken": (200, "application/rss+xml", feed_samples.BROKEN),
        "/html": (200, "text/html", feed_samples.HTML_PAGE),
        "/hf": (200, "application/json", "[]"),
    })  # fmt: skip
    with serve(server.handle) as base:
        server.url = base
        yield server


def fetch(server: FeedServer, path: str, etag: str | None = None):  # type: ignore[no-untyped-def]
    with httpx.Client(timeout=2) as client:
        return fetch_rss(client, FeedConfig(name=path.strip("/"), url=server.url + path, weight=2), etag, None)


def test_rss_items_link_to_arxiv_or_stand_alone(feeds: FeedServer) -> None:
    result = fetch(feeds, "/rss")
    assert result.error is None and result.etag == '"v1"'
    ldm, post = result.papers
    assert ldm.key == "2112.10752"  # from the guid
    assert ldm.url == "https://arxiv.org/abs/2112.10752"
    assert ldm.title == "Review: Latent Diffusion Models & friends"
    assert ldm.abstract == "We read Latent Diffusion (arXiv link below)."
    assert ldm.sources == ("rss",) and ldm.curated_weight == 2
    assert post.key == "https://reviews.example.org/posts/attention"
    assert post.published == datetime(2023, 5, 3, 10, tzinfo=UTC)


def test_atom_pdf_link_and_arxiv_rss(feeds: FeedServer) -> None:
    [atom] = fetch(feeds, "/atom").papers
    assert atom.key == "2305.00003" and atom.authors == ("Ada Lovelace",)
    [item] = fetch(feeds, "/arxiv").papers
    assert item.key == "2305.00002"
    assert item.abstract == "We present a multimodal model for charts."
    assert item.authors == ("Grace Hopper", "Alan Turing")


def test_conditional_get(feeds: FeedServer) -> None:
    result = fetch(feeds, "/rss", etag='"v1"')
    assert result.not_modified and result.papers == [] and result.error is None
    assert feeds.seen[-1][1] == '"v1"'


@pytest.mark.parametrize(("path", "error"), [("/html", "not a feed"), ("/missing", "HTTP 404")])
def test_broken_feeds_are_errors_not_exceptions(feeds: FeedServer, path: str, error: str) -> None:
    result = fetch(feeds, path)
    assert result.error is not None and error in result.error and result.papers == []


def test_malformed_xml_keeps_what_it_can(feeds: FeedServer) -> None:
    result = fetch(feeds, "/broken")
    assert result.error is None
    assert [p.title for p in result.papers][:1] == ["Half an item"]


def test_unreachable_feed_is_an_error() -> None:
    with httpx.Client(timeout=1) as client:
        result = fetch_rss(client, FeedConfig(name="gone", url="http://127.0.0.1:9/feed"), None, None)
    assert result.error is not None and result.error.startswith("cannot connect to 127.0.0.1 (")
    assert "is the address right and the network up?" in result.error


def test_hf_daily_reads_every_day_of_the_week(feeds: FeedServer) -> None:
    with httpx.Client(timeout=2) as client:
        result = fetch_hf_daily(client, FeedConfig(name="HF daily papers", url=feeds.url + "/hf", kind="hf_daily"),
                                Week.parse("2023-W18"))  # fmt: skip
    assert len([s for s in feeds.seen if s[0].startswith("/hf")]) == 7
    [paper] = result.papers
    assert (paper.key, paper.upvotes, paper.title) == ("2305.00001", 64, "Efficient Diffusion Sampling")
    assert paper.authors == ("Zesen Cheng", "Hang Zhang")


def test_canonical_link() -> None:
    assert canonical_link("HTTPS://Example.org/a/?utm_source=x&id=3#frag") == "https://example.org/a?id=3"


def test_digest_merges_curated_mentions(feeds: FeedServer, arxiv_api, write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from bot.cli import cli
    from tests.standins import Entry, week_monday

    monday = week_monday("2023-W18")
    arxiv_api.entries = [
        Entry("2305.00001", "Efficient Diffusion Sampling", "We propose a latent diffusion model sampler.", monday),
        Entry("2305.00002", "A Vision-Language Model for Charts", "We present a multimodal vision-language model.",
              monday),
    ]  # fmt: skip
    # The HF paper 2305.00001 is in a category the week's query does not cover: it is found by id.
    hf_only = arxiv_api.entries.pop(0)
    arxiv_api.others = [hf_only, Entry("2112.10752", "High-Resolution Image Synthesis with Latent Diffusion Models",
                                       "We propose latent diffusion models.", week_monday("2021-W51"))]  # fmt: skip
    write_config(
        "  feeds:\n"
        f"    - {{name: HF daily papers, url: '{feeds.url}/hf', kind: hf_daily}}\n"
        f"    - {{name: arXiv cs.CV, url: '{feeds.url}/arxiv'}}\n"
        f"    - {{name: reviews, url: '{feeds.url}/rss'}}\n"
        f"    - {{name: dead, url: '{feeds.url}/html'}}\n"
    )
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{") :])
    by_key = {item["key"]: item for item in doc["items"]}
    assert by_key["2305.00001"]["sources"] == ["arXiv", "HF daily papers"]
    [lookup] = [r["id_list"][0] for r in arxiv_api.requests if "id_list" in r]  # one request for both
    assert sorted(lookup.split(",")) == ["2112.10752", "2305.00001"]
    assert by_key["2305.00002"]["sources"] == ["arXiv", "arXiv cs.CV"]
    assert "https://reviews.example.org/posts/attention" in by_key  # a blog post, classified like the rest
    assert "2112.10752" not in by_key  # an old arXiv paper mentioned this week is not this week's paper


def test_malformed_hf_entries_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    import json

    from bot.sources.feeds import papers_from_hf

    good = json.loads(feed_samples.HF_DAY)[0]
    feed = FeedConfig(name="HF", url="http://x", kind="hf_daily")
    bad = ["x", 1, None, {"paper": {"id": "2305.00002", "authors": "Ada Lovelace"}}, {"paper": {"id": "no-id"}},
           {"paper": {"id": "2305.00003", "upvotes": "many"}}]  # fmt: skip
    with caplog.at_level("WARNING"):
        papers = papers_from_hf([*bad, good], feed)
    assert [p.key for p in papers] == ["2305.00001"]
    assert "feed HF: 6 malformed entries skipped" in caplog.text
    with pytest.raises(ValueError, match="expected a list"):
        papers_from_hf({"error": "rate limited"}, feed)


def bounded(handler, url: str = "https://93.184.216.34/feed", **limits: object):  # type: ignore[no-untyped-def]
    from bot.sources.feeds import bounded_get

    feed = FeedConfig.model_validate({"name": "f", "url": url, **limits})
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return bounded_get(client, feed, url)


@pytest.mark.parametrize(
    ("location", "problem"),
    [("http://169.254.169.254/latest/meta-data", "not a public address"),
     ("http://127.0.0.1:8080/admin", "not a public address"),
     ("http://10.0.0.7/x", "not a public address"),
     ("javascript:alert(1)", "not an http(s) link"),
     ("file:///etc/passwd", "not an http(s) link")],
)  # fmt: skip
def test_a_public_feed_cannot_redirect_to_a_private_or_odd_target(location: str, problem: str) -> None:
    from bot.sources.feeds import FeedFetchError

    with pytest.raises(FeedFetchError, match=re.escape(problem)):
        bounded(lambda request: httpx.Response(302, headers={"Location": location}))


def test_redirects_are_followed_three_hops_at_most() -> None:
    from bot.sources.feeds import FeedFetchError

    hops = iter(range(10))

    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": f"https://93.184.216.{next(hops)}/feed"})

    with pytest.raises(FeedFetchError, match="more than 3 redirects"):
        bounded(redirect)
    two = iter([httpx.Response(301, headers={"Location": "/a"}), httpx.Response(302, headers={"Location": "/b"}),
                httpx.Response(200, content=b"<rss/>")])  # fmt: skip
    fetched = bounded(lambda request: next(two))
    assert (fetched.status_code, fetched.content, fetched.url) == (200, b"<rss/>", "https://93.184.216.34/b")


def test_a_feed_body_is_capped() -> None:
    from bot.sources.feeds import FeedFetchError

    with pytest.raises(FeedFetchError, match="more than 1000 bytes"):
        bounded(lambda request: httpx.Response(200, content=b"x" * 5000), max_bytes=1000)


def test_a_feed_that_drips_is_cut_at_its_deadline() -> None:
    from bot.sources.feeds import FeedFetchError, bounded_get

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.end_headers()
        for _ in range(50):  # one byte every 0.2 s: each read is quick, the whole would take 10 s
            handler.wfile.write(b"<")
            handler.wfile.flush()
            time.sleep(0.2)

    with serve(drip) as base:
        feed = FeedConfig(name="slow", url=f"{base}/rss", timeout_seconds=1)
        with httpx.Client(timeout=5) as client, pytest.raises(FeedFetchError, match="took longer than 1 s"):
            bounded_get(client, feed, feed.url)


def test_feed_items_are_capped() -> None:
    import feedparser

    from bot.sources.feeds import papers_from_feed

    items = "".join(f"<item><title>Post {i}</title><link>https://blog.example/{i}</link></item>" for i in range(40))
    parsed = feedparser.parse(f"<rss version='2.0'><channel><title>b</title>{items}</channel></rss>")
    feed = FeedConfig(name="b", url="https://blog.example/feed", max_items=10)
    assert len(papers_from_feed(parsed, feed, datetime.now(UTC))) == 10


def test_a_lone_surrogate_from_a_feed_never_reaches_the_store(tmp_path: Path) -> None:
    # An hf_daily title with a lone surrogate used to poison every later store write (UTF-8 cannot encode it).
    import json

    from bot.paper import paper_to_dict
    from bot.sources.feeds import papers_from_hf
    from bot.store import Store

    entry = json.loads(feed_samples.HF_DAY)[0]
    entry["paper"]["title"] = "Diffusion \ud800Models\ufffe \x1b[31mfor\x07 Video"
    [paper] = papers_from_hf([entry], FeedConfig(name="HF", url="http://x", kind="hf_daily"))
    assert paper.title == "Diffusion Models for Video"
    with Store(str(tmp_path / "store.json")) as store:
        row = {k: v for k, v in paper_to_dict(paper).items() if isinstance(v, str | int | float | list)}
        store.table("candidates").insert(row)
    assert "Diffusion Models for Video" in (tmp_path / "store.json").read_text(encoding="utf-8")

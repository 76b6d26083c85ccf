"""The public archive: pages, Atom feeds (parsed back with feedparser), safety, replacing a build, search."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from bot.archive import MARKER, build_archive
from bot.cli import cli
from bot.config import Config, parse_config
from bot.digest import Digest, DigestItem, freeze_digest
from bot.errors import BotError
from bot.store import Store
from bot.week import Week
from tests.standins import serve_folder

WEEKS = [Week.parse(w) for w in ("2023-W18", "2023-W19", "2023-W20")]


def make_item(n: int, topics: tuple[str, ...], tags: tuple[str, ...], title: str = "") -> DigestItem:
    return DigestItem(
        key=f"2305.{n:05d}", url=f"https://arxiv.org/abs/2305.{n:05d}", title=title or f"Paper {n} about things",
        authors=("Ada Lovelace", "Alan Turing"), published="2023-05-02T00:00:00+00:00", categories=("cs.LG",),
        topics=topics, tags=tags, score=5.0, commentary=f"Commentary of paper {n}.", sources=("arXiv",),
    )  # fmt: skip


def fill(store: Store) -> None:
    """Three weeks: diffusion in every week, quantization only in the last; one hostile title."""
    n = 0
    for week in WEEKS:
        items = []
        for topics, tags in ((("diffusion",), ("ddpm",)), (("llm-efficiency",), ("lora", "peft"))):
            n += 1
            items.append(make_item(n, topics, tags))
        freeze_digest(store, Digest(week, tuple(items)))
    hostile = make_item(99, ("quantization",), ("int4",), title='<script>alert(1)</script> & "Quant" *_x_*')
    last = Digest(WEEKS[-1], (*items, hostile))
    freeze_digest(store, last)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "store.json") as opened:
        fill(opened)
    return Store(tmp_path / "store.json", read_only=True)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if k in ("href", "src") and v]
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_the_site_has_a_page_per_week_topic_and_tag_and_its_links_resolve(store: Store, tmp_path: Path) -> None:
    with store:
        report = build_archive(store, Config(), tmp_path / "site", search=False)
    site = tmp_path / "site"
    assert report.weeks == 3 and not report.searchable
    index = (site / "index.html").read_text(encoding="utf-8")
    # newest first, in the digest language (ko by default)
    assert index.index("2023년 5월 3주차") < index.index("2023년 5월 2주차") < index.index("2023년 5월 1주차")
    for path in ("weeks/2023-W20.html", "topics/diffusion.html", "topics/quantization.html", "tags/lora.html",
                 "tags/int4.html", "feeds/diffusion.xml", "style.css", MARKER):  # fmt: skip
        assert (site / path).is_file(), path
    week = (site / "weeks/2023-W20.html").read_text(encoding="utf-8")
    assert "https://arxiv.org/abs/2305.00099" in week and "Commentary of paper 99." in week
    assert "Ada Lovelace, Alan Turing" in week and "#int4" in week
    lora = (site / "tags/lora.html").read_text(encoding="utf-8")
    assert lora.count("<li>") == 3 and "Commentary of" not in lora  # titles only, one per week
    diffusion = (site / "topics/diffusion.html").read_text(encoding="utf-8")
    assert diffusion.count('class="item"') == 3 and "Commentary of paper 1." in diffusion  # in full
    for page in site.rglob("*.html"):
        links = _Links()
        links.feed(page.read_text(encoding="utf-8"))
        for href in links.hrefs:
            if href.startswith("https://arxiv.org/") or "pagefind/" in href:
                continue  # papers, and the search bundle that only a searchable build has
            assert (page.parent / href.split("#")[0]).resolve().is_file(), f"{page}: {href}"


def test_a_hostile_title_is_text_on_every_page_and_in_the_feed(store: Store, tmp_path: Path) -> None:
    with store:
        build_archive(store, Config(), tmp_path / "site", search=False)
    for page in (tmp_path / "site").rglob("*.html"):
        links = _Links()
        links.feed(page.read_text(encoding="utf-8"))
        assert all("alert(1)" not in script for script in links.scripts), page
    feed = feedparser.parse((tmp_path / "site/feed.xml").read_bytes())
    content = feed.entries[0].content[0].value
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Quant&quot;" in content or "&lt;script&gt;" in content


def test_the_atom_feeds_parse_with_ids_dates_and_links(store: Store, tmp_path: Path) -> None:
    config = parse_config("archive:\n  base_url: https://example.org/papers\n  title: ML papers\n", "test")
    with store:
        build_archive(store, config, tmp_path / "site", search=False)
    feed = feedparser.parse((tmp_path / "site/feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.title == "ML papers"
    assert [e.title for e in feed.entries] == ["2023년 5월 3주차", "2023년 5월 2주차", "2023년 5월 1주차"]
    ids = [e.id for e in feed.entries]
    assert len(set(ids)) == 3 and ids[0] == "https://example.org/papers/weeks/2023-W20.html"
    assert feed.entries[0].link == "https://example.org/papers/weeks/2023-W20.html"
    assert feed.entries[0].updated_parsed[:3] == (2023, 5, 22)  # the week's end
    assert "Paper 99 about things" not in feed.entries[0].content[0].value  # the hostile item has another title
    assert "Commentary of paper 99." in feed.entries[0].content[0].value
    quant = feedparser.parse((tmp_path / "site/feeds/quantization.xml").read_bytes())
    assert not quant.bozo and len(quant.entries) == 1  # only the week that has a quantization item
    assert "Commentary of paper 99." in quant.entries[0].content[0].value
    assert "Commentary of paper 1." not in quant.entries[0].content[0].value
    assert quant.entries[0].id != feed.entries[0].id


def test_a_rebuild_replaces_the_site_but_a_foreign_folder_is_never_touched(store: Store, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with store:
        build_archive(store, Config(), site, search=False)
        (site / "stale.html").write_text("old", encoding="utf-8")
        build_archive(store, Config(), site, search=False)
        assert not (site / "stale.html").exists() and (site / "index.html").exists()
        foreign = tmp_path / "home"
        foreign.mkdir()
        (foreign / "thesis.tex").write_text("precious", encoding="utf-8")
        with pytest.raises(BotError, match="not an archive the bot built"):
            build_archive(store, Config(), foreign, search=False)
    assert (foreign / "thesis.tex").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []  # no leftovers


def test_an_empty_store_builds_an_index_that_says_so(tmp_path: Path) -> None:
    with Store(tmp_path / "s.json") as opened:
        opened.table("meta").all()
    with Store(tmp_path / "s.json", read_only=True) as store:
        build_archive(store, Config(), tmp_path / "site", search=False)
    feed = feedparser.parse((tmp_path / "site/feed.xml").read_bytes())
    assert not feed.bozo and feed.entries == []
    assert "No digest has been published yet." in (tmp_path / "site/index.html").read_text(encoding="utf-8")


def test_cli_archive_build_uses_the_configured_folder(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'store.json'}\narchive:\n  out_dir: public\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "archive", "build", "--no-search"])
    assert result.exit_code == 0, result.output
    assert "3 weeks" in result.output and (tmp_path / "public/weeks/2023-W19.html").is_file()
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"store:\n  path: {tmp_path / 'store.json'}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bare), "archive", "build"])
    assert result.exit_code == 2 and "archive.out_dir" in result.output


_PROBE = """
const pf = await import(process.argv[2]);
await pf.options({ basePath: process.argv[3] });
const search = await pf.search(process.argv[4]);
const found = await Promise.all(search.results.map((r) => r.data()));
console.log(JSON.stringify(found.map((d) => d.url)));
"""


@pytest.mark.skipif(importlib.util.find_spec("pagefind") is None, reason="the archive extra is not installed")
def test_the_search_index_finds_a_paper_by_a_word_of_its_title(store: Store, tmp_path: Path) -> None:
    special = make_item(500, ("diffusion",), ("ddpm",), title="Zebrafish Denoisers for Everyone")
    with Store(tmp_path / "store.json") as writable:
        freeze_digest(writable, Digest(Week.parse("2023-W21"), (special,)))
    with store:
        report = build_archive(store, Config(), tmp_path / "site")
    site = tmp_path / "site"
    assert report.searchable and (site / "pagefind/pagefind-ui.js").is_file()
    with serve_folder(site) as base:
        node = shutil.which("node")
        if node is not None:  # Pagefind's own search code (the one the search box runs), over HTTP
            module = tmp_path / "pagefind.mjs"
            shutil.copy(site / "pagefind/pagefind.js", module)
            probe = tmp_path / "probe.mjs"
            probe.write_text(_PROBE, encoding="utf-8")
            out = subprocess.run([node, str(probe), str(module), f"{base}/pagefind/", "zebrafish"],
                                 capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
            assert json.loads(out.stdout) == [f"{base}/weeks/2023-W21.html"]  # week pages only: no repeats


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags, Chromium keeps dialling Google's hosts on a closed network.
_CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.mark.skipif(
    _CHROMIUM is None or importlib.util.find_spec("playwright") is None or importlib.util.find_spec("pagefind") is None,
    reason="needs Chromium (Debian's chromium package), playwright and the archive extra",
)
def test_in_a_browser_the_search_box_finds_a_paper_and_pages_fit_a_phone(store: Store, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    special = make_item(500, ("diffusion",), ("ddpm",), title="Zebrafish Denoisers for Everyone")
    with Store(tmp_path / "store.json") as writable:
        freeze_digest(writable, Digest(Week.parse("2023-W21"), (special,)))
    with store:
        build_archive(store, Config(), tmp_path / "site")
    with serve_folder(tmp_path / "site") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_CHROMIUM, args=_CHROMIUM_ARGS)
        try:
            for width in (1280, 390):  # desktop and phone
                page = browser.new_page(viewport={"width": width, "height": 900})
                for name in ("index.html", "weeks/2023-W21.html"):
                    page.goto(f"{base}/{name}")
                    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
                    shot = tmp_path / f"{name.replace('/', '_')}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert shot.stat().st_size > 1000
                    print(f"screenshot: {shot}")
                page.close()
            page = browser.new_page()
            page.goto(f"{base}/index.html")
            page.fill(".pagefind-ui__search-input", "zebrafish")  # types into Pagefind's search box
            result = page.locator(".pagefind-ui__result-link").first
            result.wait_for(timeout=15_000)
            assert (result.get_attribute("href") or "").endswith("/weeks/2023-W21.html")
            assert page.locator(".pagefind-ui__result").count() == 1  # the week page only, not topic or tag pages
            assert "Zebrafish Denoisers for Everyone" in (page.text_content(".pagefind-ui__results") or "")
        finally:
            browser.close()


def test_an_item_without_topics_still_gets_its_week_page(tmp_path: Path) -> None:
    editor = replace(make_item(7, (), ()), key="https://blog.example/post", url="https://blog.example/post")
    with Store(tmp_path / "s.json") as opened:
        freeze_digest(opened, Digest(WEEKS[0], (editor,)))
    with Store(tmp_path / "s.json", read_only=True) as store:
        build_archive(store, Config(), tmp_path / "site", search=False)
    assert "https://blog.example/post" in (tmp_path / "site/weeks/2023-W18.html").read_text(encoding="utf-8")

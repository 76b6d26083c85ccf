"""The public archive: a static site of every frozen digest, Atom feeds, and an optional Pagefind search index.

`site_files` is pure (digests in, file contents out); `build_archive` writes them into a fresh folder beside
the target and swaps it in, so a reader never sees half a site and a failed build leaves the old one. A folder
the bot did not build (no marker file) is never replaced: it may hold someone's files.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.digest import Digest, DigestItem, load_digests
from bot.errors import BotError
from bot.render import TEXTS, by_topic, environment, topic_labels
from bot.store import Store
from bot.week import Week

log = logging.getLogger(__name__)

MARKER = ".paper-feed-bot-archive"
FEED_WEEKS = 20  # a feed carries the latest weeks, as blogs do: readers poll it, the site keeps the rest
_SLUG = re.compile(r"[^a-z0-9_\-]+")


def slug(name: str) -> str:
    """A file name for a topic or tag (lower case, `[a-z0-9_-]`, never empty)."""
    return _SLUG.sub("-", name.lower()).strip("-") or "untitled"


@dataclass(frozen=True)
class Listing:
    """One topic's or hashtag's page: its items, newest week first."""

    kind: str  # topic | tag
    name: str
    label: str
    entries: tuple[tuple[Week, tuple[DigestItem, ...]], ...]

    @property
    def path(self) -> str:
        """Where the page lives in the site."""
        return f"{'topics' if self.kind == 'topic' else 'tags'}/{slug(self.name)}.html"

    @property
    def count(self) -> int:
        """Items on the page."""
        return sum(len(items) for _, items in self.entries)


def listings(digests: list[Digest], kind: str, labels: dict[str, str]) -> list[Listing]:
    """Per topic (or hashtag), the items of every digest that carry it, newest week first (pure)."""
    found: dict[str, dict[Week, list[DigestItem]]] = {}
    for digest in digests:
        for item in digest.items:
            for name in item.topics if kind == "topic" else item.tags:
                found.setdefault(name, {}).setdefault(digest.week, []).append(item)
    return [
        Listing(kind, name, labels.get(name, name if kind == "topic" else f"#{name}"),
                tuple((week, tuple(items)) for week, items in weeks.items()))
        for name, weeks in sorted(found.items())
    ]  # fmt: skip


def site_files(digests: Iterable[Digest], config: Config, language: str) -> dict[str, str | bytes]:
    """Every file of the archive by relative path: pages, style sheet and Atom feeds (pure)."""
    weeks = sorted(digests, key=lambda d: d.week, reverse=True)
    labels = topic_labels(config, language)
    topics, tags = listings(weeks, "topic", labels), listings(weeks, "tag", {})
    settings = config.archive
    common = {"site_title": settings.title, "language": language, "labels": labels, "topics": topics,
              "max_authors": config.digest.max_authors, "slug": slug, "has_feeds": True}  # fmt: skip
    env = environment(autoescape=True)
    files: dict[str, str | bytes] = {}

    def page(path: str, template: str, **values: Any) -> None:
        root = "../" * path.count("/")
        files[path] = env.get_template(f"archive/{template}").render(common, root=root, **values)

    page("index.html", "index.html.j2", weeks=weeks, tags=tags, title=settings.title)
    for digest in weeks:
        page(f"weeks/{digest.week}.html", "week.html.j2", digest=digest, groups=by_topic(digest.items),
             title=digest.week.label(language), searchable=True)  # fmt: skip
    for listing in [*topics, *tags]:
        page(listing.path, "listing.html.j2", listing=listing, title=listing.label)
    files["style.css"] = env.loader.get_source(env, "archive/style.css")[0]  # type: ignore[union-attr]
    files["feed.xml"] = atom_feed(weeks, config, language, None)
    for listing in topics:
        files[f"feeds/{slug(listing.name)}.xml"] = atom_feed(weeks, config, language, listing.name)
    return files


def atom_feed(digests: list[Digest], config: Config, language: str, topic: str | None) -> bytes:
    """An Atom feed with one entry per week (the latest FEED_WEEKS), its full HTML; of one topic, or of all."""
    from feedgen.feed import FeedGenerator

    settings = config.archive
    base = settings.base_url
    name = f"feeds/{slug(topic)}.xml" if topic else "feed.xml"
    label = topic_labels(config, language).get(topic, topic) if topic else ""
    feed = FeedGenerator()
    feed.id(base + name if base else f"urn:paper-feed-bot:{slug(settings.title)}:{name}")
    feed.title(f"{settings.title} — {label}" if topic else settings.title)
    feed.author({"name": settings.title})
    feed.link(href=base + name, rel="self")
    feed.link(href=base + "index.html", rel="alternate")
    feed.language(language)
    env = environment(autoescape=True)
    shown = [d for d in digests if topic is None or any(topic in i.topics for i in d.items)][:FEED_WEEKS]
    feed.updated(shown[0].week.end if shown else Week.parse("2000-W01").end)
    for digest in reversed(shown):  # feedgen lists the last added first
        items = [i for i in digest.items if topic is None or topic in i.topics]
        page = f"weeks/{digest.week}.html"
        entry = feed.add_entry()
        entry.id(f"{base}{page}#{slug(topic)}" if base and topic else base + page if base
                 else f"urn:paper-feed-bot:{slug(settings.title)}:{name}:{digest.week}")  # fmt: skip
        entry.title(digest.week.label(language))
        entry.link(href=base + page)
        entry.published(digest.week.end)
        entry.updated(digest.week.end)
        html = env.get_template("archive/entry.html.j2").render(
            items=items, language=language, max_authors=config.digest.max_authors, texts=TEXTS[language]
        )
        entry.content(html, type="html")
    xml: bytes = feed.atom_str(pretty=True)
    return xml


@dataclass(frozen=True)
class ArchiveReport:
    """What a build wrote."""

    out_dir: Path
    weeks: int
    pages: int
    size_bytes: int
    searchable: bool

    def line(self) -> str:
        """`N weeks, M pages, S MB, searchable`, in words that agree with their numbers."""
        search = "searchable" if self.searchable else "no search index"
        return (f"{_count(self.weeks, 'week')}, {_count(self.pages, 'page')}, {self.size_bytes / 1e6:.1f} MB, "
                f"{search}")  # fmt: skip


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def build_archive(store: Store, config: Config, out_dir: Path, *, search: bool = True) -> ArchiveReport:
    """Write the archive of every frozen digest to `out_dir` (replacing an earlier build), index it for search."""
    language = config.archive.language or config.digest.language
    files = site_files(load_digests(store), config, language)
    out_dir = out_dir.resolve()
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())):
        raise BotError(f"{out_dir} is not an archive the bot built (no {MARKER} in it); choose an empty or new folder")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as error:
        raise BotError(f"cannot write the archive next to {out_dir}: {error.strerror or error}") from None
    try:
        for path, content in files.items():
            target = fresh / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        (fresh / MARKER).write_text("built by paper-feed-bot; replaced on every build\n", encoding="utf-8")
        searchable = search and _index(fresh)
        _publishable(fresh)
        _swap(fresh, out_dir)
    except OSError as error:
        shutil.rmtree(fresh, ignore_errors=True)
        raise BotError(f"cannot write the archive {out_dir}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    pages = sum(1 for path in files if path.endswith(".html"))
    return ArchiveReport(out_dir, len({p for p in files if p.startswith("weeks/")}), pages, size, searchable)


def _publishable(site: Path) -> None:
    """Folders 0755 and files 0644 whatever the umask: a web server reads them, nobody else writes them (mkdtemp
    made the top folder private; a umask of 000 would make the rest world-writable)."""
    site.chmod(0o755)
    for folder, folders, files in os.walk(site):
        for name in folders:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _swap(fresh: Path, out_dir: Path) -> None:
    """Put the fresh build in place: rename the old one away, rename the new one in, delete the old."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(fresh, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _index(site: Path) -> bool:
    """Build the Pagefind search index into `site/pagefind`; False (with a warning) when it cannot be built."""
    if importlib.util.find_spec("pagefind") is None:
        log.warning("archive: no search index (install the archive extra: pip install 'paper-feed-bot[archive]')")
        return False
    cmd = [sys.executable, "-m", "pagefind", "--site", str(site), "--silent"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("archive: the search index failed (%s); the site is built without it", error)
        return False
    if done.returncode != 0:
        log.warning("archive: the search index failed: %s", (done.stderr or done.stdout).strip()[-500:])
        return False
    return True

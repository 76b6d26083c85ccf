"""The only place that runs the steps in order: collect → merge → classify → select → comment → freeze."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.channels import Channel, configured_channels
from bot.classify import MAX_TAGS, Classifier, normalize_tags
from bot.commentary import extractive, safe_commentary
from bot.config import Config
from bot.delivery import ChannelReport, deliver
from bot.digest import Digest, DigestItem, featured_elsewhere, freeze_digest, load_digest
from bot.errors import BotError, ConfigError, SourceError
from bot.judge import NOBODY, Judged, judge_week
from bot.ledger import Ledger
from bot.notes import Note, Notes, load_notes, notes_path
from bot.paper import Paper, arxiv_key, merge_all, safe_link
from bot.render import render_notes
from bot.selection import Ranked, explain, in_digest_order, ranked_topics, select
from bot.sources import arxiv as arxiv_source
from bot.store import Store, write_new_file
from bot.subscribers import ReaderReport, Roster, deliver_to_all_readers
from bot.week import Week

if TYPE_CHECKING:  # httpx loads only when an LLM is configured
    from bot.llm import Commentary

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def collect(
    config: Config, store: Store, week: Week, progress: Progress | None = None, pinned: Sequence[str] = ()
) -> list[Paper]:
    """Every paper the sources know for the week, one per key, each remembering all its sources.

    Feeds are refreshed first (and recorded, unless the store is read-only). A curated item naming an arXiv
    paper the week's query did not return is looked up by id and kept only if its first version is in the week.
    """
    papers = arxiv_source.fetch_week(week, config.sources.arxiv, progress)
    mentions: list[Paper] = []
    if config.sources.feeds:
        from bot import curated  # httpx and feedparser load only when feeds are configured

        results = curated.fetch_all(config, store, week)
        if not store.read_only:
            curated.record(store, results, datetime.now(UTC))  # the service alerts on failing feeds
        pool = merge_all(curated.candidates(store) + [p for r in results for p in r.papers])
        # A mention comes days or weeks after a paper's first version: older or much later ones are other weeks'.
        window_start, window_end = week.start - timedelta(days=7), week.end + timedelta(days=35)
        mentions = [p for p in pool if window_start <= p.published < window_end]
    known = {p.key for p in papers}
    missing = [p.key for p in mentions if p.is_arxiv and p.key not in known]
    missing += [key for key in pinned if key not in known and key not in missing]
    if missing:
        try:
            looked_up = arxiv_source.fetch_ids(missing, config.sources.arxiv)
            # An editor's pin is explicit; a curated mention counts only for the week of the paper's first version.
            papers += [p for p in looked_up if p.key in pinned or week.contains(p.published)]
        except SourceError as error:
            log.warning("could not look up %d arXiv ids (curated or pinned): %s", len(missing), error)
    found = {p.key for p in papers}
    return merge_all(papers + [p for p in mentions if p.key in found or not p.is_arxiv])


def choose(
    config: Config, week: Week, papers: list[Paper], featured: set[str], notes: Notes, judged: Judged = NOBODY
) -> list[Paper]:
    """Classify (the judge's verdicts over the rules) and select, then apply the editor's drops, pins, added items
    and tags (pure)."""
    classifier = Classifier(config.topics, config.tags)
    kept = [p for p in papers if p.key not in notes.dropped]
    classified, ranked = rank_week(config, classifier, week, kept, featured, judged)
    selected = select_papers(config, ranked)
    by_key = {p.key: p for p in classified}
    chosen = {p.key for p in selected}
    for key in notes.pinned:
        note = notes.by_key[key]
        if key in chosen:
            continue
        if key in by_key:
            selected.append(by_key[key])
        elif note.title:
            selected.append(classifier.score(editor_item(key, note, week)))
        else:
            log.warning("notes for %s pin %s, but no source has that paper", week, key)
    tagged = [classifier.tag(p) for p in selected]
    tagged = [replace(p, tags=_editor_tags(notes.get(p.key), p.tags)) for p in tagged]
    log.info("digest %s: %d of %d papers chosen", week, len(tagged), len(papers))
    return in_digest_order(tagged, list(config.topics))


def rank_week(
    config: Config, classifier: Classifier, week: Week, papers: list[Paper], featured: set[str], judged: Judged
) -> tuple[list[Paper], list[Ranked]]:
    """The week's papers classified (the judge's verdicts over the rules) and its candidates ranked per topic (pure)."""
    classified = [judged.apply(classifier.score(p)) for p in papers]
    return classified, ranked_topics(classified, week, featured, thresholds(config), judged.accepted())


def thresholds(config: Config) -> dict[str, float]:
    """Each topic's threshold, in the configured topic order: confidence is measured against it."""
    return {name: topic.threshold for name, topic in config.topics.items()}


def select_papers(config: Config, ranked: list[Ranked]) -> list[Paper]:
    """The configured caps and confidence bar applied to the week's ranked candidates (pure)."""
    digest = config.digest
    return select(ranked, per_topic=digest.per_topic, max_items=digest.max_items, min_confidence=digest.min_confidence)


def judge(config: Config, store: Store, week: Week, papers: list[Paper], featured: set[str]) -> Judged:
    """The judge's verdicts on the week's best candidates, when `selection.judge` is set."""
    settings = config.selection.judge
    if settings is None:
        return NOBODY
    return judge_week(config, settings, store, week, papers, featured)[0]


def explain_ranking(config: Config, store: Store, week: Week, progress: Progress | None = None) -> str:
    """Why each item of the week ranked where it did, per topic, with the first runners-up (reads only)."""
    notes = load_notes(config.digest.notes_dir, week)
    featured = featured_elsewhere(store, week)
    papers = [p for p in collect(config, store, week, progress) if p.key not in notes.dropped]
    judged = judge(config, store, week, papers, featured)
    _, ranked = rank_week(config, Classifier(config.topics, config.tags), week, papers, featured, judged)
    chosen = {p.key for p in select_papers(config, ranked)}
    return explain(ranked, chosen, config.digest.per_topic, config.digest.min_confidence)


def vocabulary(config: Config) -> list[str]:
    """Every hashtag the configuration knows: its `tags` and the topics' own words."""
    words = [*config.tags, *(word for topic in config.topics.values() for word in topic.tags)]
    return normalize_tags(words)


def _editor_tags(note: Note | None, tags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalize_tags([*note.tags, *tags]))[:MAX_TAGS] if note and note.tags else tags


def editor_item(key: str, note: Note, week: Week) -> Paper:
    """A paper the editor adds by link (a blog post, a project page)."""
    return Paper(key=key, title=note.title or key, authors=tuple(note.authors), abstract="", url=key,
                 published=week.start, sources=("editor",))  # fmt: skip


def assemble(config: Config, week: Week, chosen: list[Paper], notes: Notes, llm: Mapping[str, Commentary]) -> Digest:
    """The digest items, commentary by precedence: editor note > LLM > extractive, and tags: editor's, then the
    LLM's (when it gave two of the vocabulary) or the rules' (pure)."""
    items = []
    for paper in chosen:
        if safe_link(paper.url) is None and not paper.is_arxiv:
            log.warning("digest %s: %s left out: its link is not http(s)", week, paper.key[:100])
            continue
        note = notes.get(paper.key)
        written = llm.get(paper.key)
        if written and written.tags:
            paper = replace(paper, tags=_editor_tags(note, written.tags))
        if note and note.commentary:
            text = safe_commentary(note.commentary)
        else:
            text = written.text if written else extractive(paper.title, paper.abstract, config.commentary.max_chars)
        items.append(DigestItem.from_paper(paper, text))
    return Digest(week, tuple(items))


def build_digest(config: Config, store: Store, week: Week, progress: Progress | None = None) -> Digest:
    """Collect, choose and comment the week's digest (reads the store; writes only feed state and caches)."""
    notes = load_notes(config.digest.notes_dir, week)
    papers = collect(config, store, week, progress, pinned=[k for k in notes.pinned if arxiv_key(k) == k])
    featured = featured_elsewhere(store, week)
    # The editor's drops are never sent to the judge: its requests are capped and cost money.
    judged = judge(config, store, week, [p for p in papers if p.key not in notes.dropped], featured)
    chosen = choose(config, week, papers, featured, notes, judged)
    llm: dict[str, Commentary] = {}
    settings = config.commentary.llm
    if settings is not None:
        from bot.llm import llm_commentary

        wanted = [p for p in chosen if not ((note := notes.get(p.key)) and note.commentary)]
        language = settings.language or config.digest.language
        max_chars = settings.max_chars or config.commentary.max_chars
        llm = llm_commentary(wanted, settings, language, max_chars, store, vocabulary(config))
    return assemble(config, week, chosen, notes, llm)


def draft_notes(config: Config, store: Store, week: Week, progress: Progress | None = None) -> Path:
    """Write `<notes_dir>/<week>.yaml` from the week's digest (frozen, else built now); never overwrite."""
    path = notes_path(config.digest.notes_dir, week)
    if path.exists() or path.is_symlink():
        raise BotError(f"{path} already exists; edit it (or move it away to draft a new one)")
    digest = load_digest(store, week) or build_digest(config, store, week, progress)
    try:
        write_new_file(path, render_notes(digest, config.digest.language).encode("utf-8"))
    except FileExistsError:  # (made meanwhile, or a symlink: never written through)
        raise BotError(f"{path} already exists; edit it (or move it away to draft a new one)") from None
    except OSError as error:
        raise BotError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def open_store(config: Config, *, read_only: bool = False, service: bool = False) -> Store:
    """The configured store (enter it to use it; `service`: also hold the one-service-per-store lock)."""
    return Store(config.store.path, lock_timeout=config.store.lock_timeout_seconds, read_only=read_only,
                 service=service)  # fmt: skip


@dataclass(frozen=True)
class Publication:
    """A publish run's outcome: the digest and, per channel, what was delivered."""

    digest: Digest
    reports: list[ChannelReport]
    readers: list[ReaderReport] = field(default_factory=list)

    @property
    def every_report(self) -> list[ChannelReport | ReaderReport]:
        """Per channel, then per channel's readers."""
        return [*self.reports, *self.readers]

    @property
    def lines(self) -> list[str]:
        """One summary line per channel, then per channel's readers."""
        return [r.line() for r in self.every_report]

    @property
    def failed(self) -> list[str]:
        """The channels (or channels' readers) whose delivery failed."""
        readers = [f"{r.channel} readers" for r in self.readers if not r.ok]
        return [r.channel for r in self.reports if not r.ok] + readers

    @property
    def empty(self) -> bool:
        """Whether the week had no paper to show: then nothing was frozen or sent."""
        return not self.digest.items


def publish(
    config: Config,
    store: Store,
    week: Week,
    *,
    language: str | None = None,
    refresh: bool = False,
    force: bool = False,
    only: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Publication:
    """Build (or reuse the frozen) digest of a week, freeze it, and deliver what the ledger lacks.

    On a read-only store (a dry run) the digest is built and returned; nothing is written or sent. A week
    that has not finished is refused; a digest with no items is neither frozen nor sent.
    """
    week.require_finished()
    channels = [] if store.read_only else configured_channels(config, only)  # config errors before network work
    if only and not channels and not store.read_only:
        raise ConfigError(f"channel {only!r} is not configured under channels ({config.source})")
    with nullcontext() if store.read_only else store.publishing():  # a week is never delivered twice at once
        return _publish(config, store, week, channels, language, refresh, force, only, progress, should_stop)


def _publish(config: Config, store: Store, week: Week, channels: list[Channel], language: str | None,
             refresh: bool, force: bool, only: str | None, progress: Progress | None,
             should_stop: Callable[[], bool] | None) -> Publication:  # fmt: skip
    ledger = Ledger(store)
    frozen = load_digest(store, week)
    if frozen is not None and frozen.demo and not refresh and channels:
        raise BotError(f"{week} holds the demo digest (bot demo --keep), which is never delivered; "
                       f"bot digest --week {week} --refresh replaces it with the real week")  # fmt: skip
    if frozen is not None and refresh and ledger.delivered_anything(str(week)):
        raise BotError(f"the {week} digest was already delivered; --refresh rebuilds only an undelivered digest")
    if frozen is not None and not refresh:
        log.info("digest %s: using the frozen digest (%d items)", week, len(frozen.items))
        digest = frozen
    else:
        digest = build_digest(config, store, week, progress)
        if not digest.items:
            log.warning("digest %s: no paper on the tracked topics; nothing frozen or sent", week)
            return Publication(digest, [])
        if not store.read_only:
            freeze_digest(store, digest)
    if force:
        ledger.forget(str(week), only)
        for channel in channels:
            Roster(store, channel.name, str(week)).forget()
    reports = deliver(ledger, channels, digest, language or config.digest.language, config, should_stop)
    readers = deliver_to_all_readers(store, channels, digest, config, should_stop) if channels else []
    return Publication(digest, reports, readers)

"""Readers with their own topics: who they are (the `subscribers` table) and delivering a week to them.

Each reader gets the week's frozen digest filtered to their topics, in their language, on their channel
(a Telegram private chat, or email). The `roster` table is their ledger: one row per (channel, week) listing
the readers sent, pending and failed — a row per reader and week would grow the store by megabytes a week
at ten thousand readers. Its writes are grouped: a batch of readers is marked pending in one store write right
before its messages go, and recorded in one write right after, so a crash leaves at most one batch pending,
which `delivery.on_ambiguous` settles on the next run (a private chat cannot be looked up, as Slack can).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels.base import Channel, Part
from bot.config import Config
from bot.digest import Digest
from bot.errors import BotError, DeliveryError, StoreError
from bot.paper import inert, known_fields
from bot.store import Q, Store
from bot.week import LANGUAGES, Week

log = logging.getLogger(__name__)

KINDS = ("telegram", "email")
BATCH = 50  # readers per pending/sent write, at most: a crash leaves at most this many ambiguous
KEEP_WEEKS = 52  # roster rows older than this are pruned
GIVE_UP_AFTER = 5  # failures in a row that are not one reader's (the service is down): the rest wait
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True)
class Subscriber:
    """One reader: where they read, which topics, in which language; inactive once unreachable."""

    kind: str  # telegram | email
    address: str  # a chat id, or an email address
    topics: tuple[str, ...]
    language: str
    active: bool = True
    token: str = field(default_factory=lambda: secrets.token_urlsafe(12))  # email: names them in unsubscribe links
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    note: str = ""  # why inactive
    updated: str = ""  # when the row last changed (a /start after a failed send must not be undone)

    @property
    def id(self) -> str:
        """`telegram:<chat>` or `email:<address>`: the reader's name in the roster and on the command line."""
        return f"{self.kind}:{self.address}"

    def to_row(self) -> dict[str, Any]:
        """The form stored in the `subscribers` table."""
        return {**asdict(self), "topics": list(self.topics)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Subscriber:
        """The inverse of `to_row`."""
        return cls(**{**known_fields(cls, row), "topics": tuple(row["topics"])})


def parse_reader(text: str) -> tuple[str, str]:
    """(kind, address) from `telegram:123`, `email:a@b.org`, `a@b.org` or a bare chat id."""
    kind, _, address = text.partition(":")
    if kind in KINDS and address:
        return kind, address.strip()
    if re.fullmatch(r"-?\d+", text.strip()):
        return "telegram", text.strip()
    return "email", text.strip()


def check_email(address: str, smtputf8: bool = False) -> str:
    """The address as the bot keeps it: surrounding space gone, domain in IDNA, everything in lower case; a
    BotError saying why when it is no deliverable address (controls, spaces, list separators, no dotted
    domain) or, without `smtputf8`, its local part is not ASCII (SMTP without SMTPUTF8 cannot carry it)."""
    import idna

    address = address.strip()
    if not address.isprintable() or inert(address) != address:
        raise BotError(f"{shown(address)!r} is not an email address: it holds control or invisible characters")
    local, _, domain = address.rpartition("@")
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii") if domain else domain
    except idna.IDNAError as error:
        raise BotError(f"{address!r} is not an email address: its domain is not valid ({error})") from None
    normal = f"{local}@{domain}".lower()
    if not _EMAIL.match(normal):
        raise BotError(f"{address!r} is not an email address")
    if not local.isascii() and not smtputf8:
        raise BotError(f"{address!r} cannot be sent to: its local part is not ASCII, which needs a mail server "
                       "with SMTPUTF8 (set channels.email.smtputf8: true if yours offers it)")  # fmt: skip
    return normal


def shown(address: str) -> str:
    """An address as a terminal may print it: control and invisible characters written as escapes."""
    return "".join(c if c.isprintable() and inert(c) else c.encode("unicode_escape").decode() for c in address)


def unescaped(text: str) -> str:
    """The inverse of `shown`: an address as `subscribers list` printed it, back to the stored one."""
    return re.sub(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[ntr])", lambda m: m.group(0).encode().decode(
        "unicode_escape"), text)  # fmt: skip


def check_topics(topics: Iterable[str], config: Config) -> tuple[str, ...]:
    """Configured topic names, in the config's order; an unknown one is an error naming the known ones."""
    wanted = list(dict.fromkeys(t.strip() for t in topics if t.strip()))
    unknown = [t for t in wanted if t not in config.topics]
    if unknown:
        raise BotError(f"unknown topic {', '.join(unknown)}: the topics are {', '.join(config.topics)}")
    return tuple(t for t in config.topics if t in wanted)


class Subscribers:
    """The `subscribers` table."""

    def __init__(self, store: Store, config: Config) -> None:
        self.table = store.table("subscribers")
        self.store = store
        self.config = config

    def all(self, kind: str | None = None) -> list[Subscriber]:
        """Every reader (of one kind), in the order they subscribed."""
        rows = self.table.search(Q.kind == kind) if kind else self.table.all()
        return [Subscriber.from_row(dict(row)) for row in rows]

    def get(self, kind: str, address: str) -> Subscriber | None:
        """One reader, if subscribed."""
        row = self.table.get((Q.kind == kind) & (Q.address == address))
        return Subscriber.from_row(dict(row)) if row else None

    def add(
        self, kind: str, address: str, topics: Iterable[str] | None = None, language: str | None = None
    ) -> Subscriber:
        """Subscribe (every topic unless given), or update and reactivate a reader already known."""
        if kind == "email":
            email = self.config.channels.email
            address = check_email(address, smtputf8=email is not None and email.smtputf8)
        chosen = check_topics(topics, self.config) if topics is not None else tuple(self.config.topics)
        if not chosen:
            raise BotError("choose at least one topic")
        if language is not None and language not in LANGUAGES:
            raise BotError(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")
        known = self.get(kind, address)
        reader = (
            replace(known, topics=chosen, language=language or known.language, active=True, note="")
            if known
            else Subscriber(kind, address, chosen, language or self.config.digest.language)
        )
        return self.save(reader)

    def save(self, reader: Subscriber) -> Subscriber:
        """Write one reader's row, stamped with the time of the change; the row as written."""
        reader = replace(reader, updated=datetime.now(UTC).isoformat(timespec="microseconds"))
        self.table.upsert(reader.to_row(), (Q.kind == reader.kind) & (Q.address == reader.address))
        return reader

    def remove(self, kind: str, address: str) -> bool:
        """Unsubscribe (the address as given, as `list` shows it, or as `add` would keep it); whether the reader
        was there."""
        forms = {address, unescaped(address)}
        if kind == "email":
            with contextlib.suppress(BotError):
                forms.add(check_email(address, smtputf8=True))
        return bool(self.table.remove((Q.kind == kind) & Q.address.one_of(sorted(forms))))

    def by_token(self, token: str) -> Subscriber | None:
        """The reader an unsubscribe token names, if any."""
        row = self.table.get(Q.token == token) if token else None
        return Subscriber.from_row(dict(row)) if row else None

    def remove_by_token(self, token: str) -> Subscriber | None:
        """Unsubscribe the reader an unsubscribe token names (a token works once: the row goes with it)."""
        with self.store.batch():
            reader = self.by_token(token)
            if reader is not None:
                self.table.remove(Q.token == token)
        return reader

    def deactivate(self, readers: dict[str, str], as_read: dict[str, str]) -> None:
        """Mark readers (id → why) inactive, in one store write; a reader whose row changed since it was read
        (`as_read`: id → its `updated`), say by a /start after the failed send, is left as they are now."""
        if not readers:
            return
        with self.store.batch():
            for reader in self.all():
                if reader.id in readers and reader.updated == as_read.get(reader.id):
                    self.save(replace(reader, active=False, note=readers[reader.id]))

    def counts(self) -> dict[str, dict[str, int]]:
        """Active readers per kind and topic."""
        counts: dict[str, dict[str, int]] = {}
        for reader in self.all():
            if reader.active:
                per_topic = counts.setdefault(reader.kind, {})
                for topic in reader.topics:
                    per_topic[topic] = per_topic.get(topic, 0) + 1
        return counts


def filter_digest(digest: Digest, topics: Iterable[str]) -> Digest:
    """The items on any of the topics (an item on no topic, such as an editor's link, goes to everyone)."""
    wanted = set(topics)
    return replace(digest, items=tuple(i for i in digest.items if not i.topics or wanted & set(i.topics)))


class Roster:
    """Which readers of one channel have a week's digest: the ledger for readers, batched (see the docstring)."""

    def __init__(self, store: Store, channel: str, week: str) -> None:
        self.store = store
        self.table = store.table("roster")
        self.key = (Q.channel == channel) & (Q.week == week)
        row = self.table.get(self.key) or {}
        self.row: dict[str, Any] = {
            "channel": channel, "week": week, "sent": list(row.get("sent", [])),
            "pending": list(row.get("pending", [])), "failed": dict(row.get("failed", {})),
        }  # fmt: skip

    @property
    def sent(self) -> set[str]:
        """Readers who have the week."""
        return set(self.row["sent"])

    @property
    def pending(self) -> set[str]:
        """Readers whose messages may or may not have gone out (a crash mid-batch)."""
        return set(self.row["pending"])

    def mark_pending(self, ids: list[str]) -> None:
        """One store write, right before a batch's messages go."""
        self.row["pending"] = sorted(self.pending | set(ids))
        self._write()

    def settle(
        self, batch: Iterable[str], sent: list[str], failed: dict[str, str], ambiguous: set[str],
        then_pending: Iterable[str] = (),
    ) -> None:  # fmt: skip
        """One store write, right after a batch: of its readers only the ambiguous stay pending (one not
        tried, after a stop, was never sent to); the next batch, if given, is marked pending in the same write."""
        already = self.sent
        self.row["sent"] = [*self.row["sent"], *(i for i in sent if i not in already)]
        self.row["pending"] = sorted((self.pending - set(batch)) | ambiguous | set(then_pending))
        self.row["failed"] = {k: v for k, v in {**self.row["failed"], **failed}.items() if k not in set(sent)}
        self._write()

    def forget(self) -> None:
        """Drop the week's row (for `--force`)."""
        self.table.remove(self.key)

    def _write(self) -> None:
        self.table.upsert(self.row, self.key)

    @staticmethod
    def prune(store: Store, before: Week) -> None:
        """Drop roster rows of weeks before `before` (a year of them is kept)."""
        store.table("roster").remove(Q.week < str(before))


@dataclass
class ReaderReport:
    """What one channel's readers got in one run."""

    channel: str
    readers: int = 0
    sent: int = 0
    skipped: int = 0  # already had it
    empty: int = 0  # none of their topics this week
    failed: list[str] = field(default_factory=list)  # one reader's failure each (retried on the next run)
    ambiguous: int = 0
    gone: int = 0  # blocked the bot / mailbox gone: marked inactive
    left: int = 0  # unsubscribed (or changed to another reader's state) while the run was on: not sent to
    unreached: int = 0  # not tried: a shutdown, or the service kept failing (the run counts as failed)

    @property
    def ok(self) -> bool:
        """Every reader was tried: one reader's failure is theirs, not the run's."""
        return not self.unreached

    def line(self) -> str:
        """One summary line for the user."""
        extra = "".join(f", {n} {what}" for n, what in ((self.empty, "with nothing on their topics"),
                        (self.left, "unsubscribed during the run"),
                        (self.gone, "unreachable (now inactive)"), (self.ambiguous, "ambiguous"),
                        (self.unreached, "not reached (the next run sends to them)")) if n)  # fmt: skip
        state = "ok" if self.ok else "FAILED"
        first = f" (first: {self.failed[0]})" if self.failed else ""
        return (f"{self.channel} readers: {state}: {self.sent} sent, {self.skipped} already delivered, "
                f"{len(self.failed)} failed{extra} of {self.readers}{first}")  # fmt: skip


StopCheck = Callable[[], bool] | None


def deliver_to_readers(
    store: Store, channel: Channel, digest: Digest, config: Config, should_stop: StopCheck = None
) -> ReaderReport:
    """Send the week to every active reader of the channel that the roster does not record as having it."""
    week = str(digest.week)
    table = Subscribers(store, config)
    readers = [r for r in table.all(channel.name) if r.active]
    roster = Roster(store, channel.name, week)
    now = _Current(store, table, channel.name, readers)
    report = ReaderReport(channel.name, readers=len(readers))
    todo = [r for r in readers if r.id not in roster.sent]
    report.skipped = len(readers) - len(todo)
    left = [r.id for r in todo if r.id in roster.pending]
    if left and config.delivery.on_ambiguous == "skip":
        log.warning("%s %s: %d reader(s) left pending by an earlier run; counted as sent",
                    channel.name, week, len(left))  # fmt: skip
        roster.settle(left, left, {}, set())
        report.skipped += len(left)
        todo = [r for r in todo if r.id not in set(left)]
    parts_of = _Renderer(channel, digest, config)
    gone: dict[str, str] = {}
    later: list[Subscriber] = []  # refused for now (a 450): asked again once, after every other reader
    retried = False  # whether `later` is queued as the last batch
    trouble = tried = 0  # failures in a row that say the service is down; readers tried
    batches = batched(todo)
    if should_stop is not None and should_stop():
        batches, report.unreached = [], len(todo)
    if batches:
        roster.mark_pending([r.id for r in batches[0]])
    number = 0
    while number < len(batches):
        batch = batches[number]
        ids = [r.id for r in batch]
        sent: list[str] = []
        failed: dict[str, str] = {}
        ambiguous: set[str] = set()
        try:
            for reader in batch:
                if trouble >= GIVE_UP_AFTER:
                    break
                tried += 1
                current = now.reader(reader.id)
                if current is None:  # a /stop (or `subscribers remove`) while the run was on
                    report.left += 1
                    continue
                parts = parts_of(current)
                if not parts:
                    report.empty += 1
                    sent.append(reader.id)
                    continue
                try:
                    for part in parts:
                        channel.send(part)
                except DeliveryError as error:
                    log.error("%s %s reader %s failed: %s", channel.name, week, reader.id, error)
                    if error.gone:
                        gone[reader.id] = failed[reader.id] = str(error)
                    elif error.ambiguous:  # left pending: delivery.on_ambiguous decides on the next run
                        trouble += 1
                        ambiguous.add(reader.id)
                    else:
                        # A refusal that names the reader says the service is up: it never counts as trouble.
                        trouble = GIVE_UP_AFTER if error.deferred else trouble + (not error.reader)
                        failed[reader.id] = str(error)
                        if error.later and not retried:
                            later.append(reader)
                            tried -= 1  # (counted when it is asked again)
                        else:
                            report.failed.append(f"{reader.id}: {error}")
                    continue
                trouble = 0
                report.sent += 1
                sent.append(reader.id)
        except BaseException:
            _settle(roster, ids, sent, failed, ambiguous, channel.name, week)
            raise
        stopping = (should_stop is not None and should_stop()) or trouble >= GIVE_UP_AFTER
        if number + 1 == len(batches) and later and not retried and not stopping:
            batches.append(later)  # the readers refused for now, once more, after everyone else
            retried = True
        following = batches[number + 1] if number + 1 < len(batches) and not stopping else []
        # One write records this batch and marks the next one pending, right before its first message.
        _settle(roster, ids, sent, failed, ambiguous, channel.name, week, [r.id for r in following])
        report.ambiguous += len(ambiguous)
        if stopping:
            report.unreached = len(todo) - tried
            break
        number += 1
    report.gone = len(gone)
    table.deactivate(gone, {r.id: r.updated for r in readers})
    return report


class _Current:
    """Readers as they are now: re-read only when the subscribers table changed (a /stop, /topics, /lang during
    a run takes effect for the rest of it)."""

    def __init__(self, store: Store, table: Subscribers, kind: str, readers: list[Subscriber]) -> None:
        self.store, self.table, self.kind = store, table, kind
        self.seen = store.changes["subscribers"]
        self.by_id = {r.id: r for r in readers}

    def reader(self, reader_id: str) -> Subscriber | None:
        """The reader's row now, if they still want the digest."""
        if self.store.changes["subscribers"] != self.seen:
            self.seen = self.store.changes["subscribers"]
            self.by_id = {r.id: r for r in self.table.all(self.kind) if r.active}
        return self.by_id.get(reader_id)


def batched(readers: list[Subscriber]) -> list[list[Subscriber]]:
    """Readers in batches of 1, 2, 4, ... up to BATCH: a crash early in a run, or in a run to a few readers,
    leaves few of them ambiguous; a run to thousands still writes the roster once per BATCH."""
    batches, start, size = [], 0, 1
    while start < len(readers):
        batches.append(readers[start : start + size])
        start, size = start + size, min(size * 2, BATCH)
    return batches


def _settle(roster: Roster, batch: list[str], sent: list[str], failed: dict[str, str], ambiguous: set[str],
            channel: str, week: str, then_pending: list[str] | None = None) -> None:  # fmt: skip
    """Record a batch; a store that cannot be written stops delivery, naming what is left pending."""
    try:
        roster.settle(batch, sent, failed, ambiguous, then_pending or ())
    except StoreError as error:
        raise StoreError(
            f"{error}; {len(sent)} reader(s) of {channel} {week} were sent to but stay pending "
            "(delivery.on_ambiguous decides on the next run); delivery stopped"
        ) from None


def deliver_to_all_readers(
    store: Store, channels: list[Channel], digest: Digest, config: Config, should_stop: StopCheck = None
) -> list[ReaderReport]:
    """Every channel's readers (a channel without any is left out of the reports); then prune old rosters."""
    reports = []
    kinds = {row["kind"] for row in store.table("subscribers").all()}
    for channel in channels:
        if channel.has_readers and channel.name in kinds:
            try:
                reports.append(deliver_to_readers(store, channel, digest, config, should_stop))
            finally:
                channel.close()
    Roster.prune(store, Week.containing(digest.week.start - timedelta(weeks=KEEP_WEEKS)))
    return reports


class _Renderer:
    """A reader's parts: the digest is filtered and rendered once per (topics, language), not per reader."""

    def __init__(self, channel: Channel, digest: Digest, config: Config) -> None:
        self.channel, self.digest, self.config = channel, digest, config
        self.cache: dict[tuple[tuple[str, ...], str], Callable[[Subscriber], list[Part]] | None] = {}

    def __call__(self, reader: Subscriber) -> list[Part]:
        key = (reader.topics, reader.language)
        if key not in self.cache:
            filtered = filter_digest(self.digest, reader.topics)
            has_items = bool(filtered.items)
            self.cache[key] = self.channel.reader_parts(filtered, reader.language, self.config) if has_items else None
        render = self.cache[key]
        return render(reader) if render is not None else []

"""`bot check` and `bot status`: what an operator asks before and after deploying."""

from __future__ import annotations

import getpass
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bot.config import Config
from bot.errors import BotError

Check = tuple[str, bool, str]


def run_checks(config: Config, *, network: bool = True) -> Iterator[Check]:
    """Each check as (name, passed, detail); network checks post nothing."""
    from bot.channels import configured_channels

    yield "config", True, f"{config.source}: keys, environment variables, schedules, time zones, regexes"
    yield _check("templates", _templates)
    folders = [("store", Path(config.store.path).parent), ("notes", Path(config.digest.notes_dir))]
    folders += [("archive", Path(config.archive.out_dir))] if config.archive.out_dir else []
    for name, folder in folders:
        yield _check(f"{name} folder", partial(_writable, folder))
    channels = []
    for name in ("telegram", "slack", "email"):
        if getattr(config.channels, name) is None:
            continue
        try:
            channels += configured_channels(config, name)
            yield f"{name} settings", True, "environment variables resolved"
        except BotError as error:
            yield f"{name} settings", False, str(error)
    if not network:
        return
    yield _check("arxiv", lambda: _arxiv(config))
    if config.sources.feeds:
        from bot import curated
        from bot.week import Week

        for result in curated.fetch(config, Week.last_finished()):
            detail = result.error or f"{len(result.papers)} items"
            yield f"feed {result.name}", result.error is None, detail
    for channel in channels:
        yield _check(channel.name, channel.check)
        channel.close()


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return name, True, probe()
    except BotError as error:
        return name, False, str(error)


def _writable(folder: Path) -> str:
    """The folder (or the nearest existing parent, where the bot would make it) is writable by this user."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    user = getpass.getuser()
    try:
        with tempfile.TemporaryFile(dir=existing):  # a real write: permissions, read-only mounts, full disks
            pass
    except OSError as error:
        raise BotError(f"{existing} cannot be written by {user} ({error.strerror or error}): the bot could not "
                       "save there") from None  # fmt: skip
    return f"{folder} writable by {user}" + ("" if existing == folder else f" (made on first use in {existing})")


def _templates() -> str:
    """Every shipped template parses."""
    import jinja2

    from bot.render import environment

    env = environment()
    names = env.list_templates()
    for name in names:
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as error:
            raise BotError(f"{name} line {error.lineno}: {error.message}") from None
    return f"{len(names)} templates parse"


def _arxiv(config: Config) -> str:
    from bot.sources.arxiv import probe

    return probe(config.sources.arxiv)


def status_lines(config: Config, weeks: int) -> tuple[list[str], str | None]:
    """Recent digests with per-channel ledger counts, failing feeds and the next runs; and, when the latest
    digest has a part that failed to send, what failed (the service's health)."""
    from bot import curated
    from bot.ledger import FAILED, Ledger
    from bot.pipeline import open_store
    from bot.service import next_runs
    from bot.subscribers import Subscribers

    lines, failure = [], None
    with open_store(config, read_only=True) as store:
        rows = sorted(store.table("digests").all(), key=lambda r: r["week"], reverse=True)[:weeks]
        ledger = Ledger(store)
        lines.append(f"store {store.path} ({store.size_bytes()} bytes)" if store.path.exists()
                     else f"no store yet ({store.path})")  # fmt: skip
        if not rows:
            lines.append("no digest published yet")
        for row in rows:
            counts: dict[str, Counter[str]] = {}
            for (channel, _), entry in ledger.rows(row["week"]).items():
                counts.setdefault(channel, Counter())[entry["status"]] += 1
            state = "; ".join(
                f"{ch} " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) for ch, c in counts.items()
            )
            never = " — demo week (bot demo --keep), never delivered" if row.get("demo") else " — not delivered"
            lines.append(f"{row['week']}: {len(row['items'])} items" + (f" — {state}" if state else never))
            failed = [ch for ch, c in counts.items() if c[FAILED]]
            if row is rows[0] and failed:
                failure = f"the last publish ({row['week']}) failed on {', '.join(failed)}; rerun bot digest to retry"
        for kind, per_topic in sorted(Subscribers(store, config).counts().items()):
            lines.append(f"{kind} readers: " + ", ".join(f"{topic} {n}" for topic, n in per_topic.items()))
        for feed in curated.failing_feeds(store):
            lines.append(f"feed {feed['name']}: failing ({feed['failures']} in a row): {feed['error']}")
    for name, when in next_runs(config, datetime.now(UTC)).items():
        lines.append(f"next {name}: {when.isoformat()}")
    return lines, failure

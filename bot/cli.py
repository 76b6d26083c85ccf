"""The `bot` command line: each command a few lines over the library; a BotError becomes one line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bot.errors import BotError, SourceError
from bot.redaction import redact

FORMATS = ("text", "markdown", "json")
LANGUAGES = ("ko", "en", "zh")
CHANNELS = ("telegram", "slack", "email")


class _Group(click.Group):
    """Turns every error into one `Error: ...` line and exit status 1: no command ends in a traceback.

    The library's errors say what went wrong in the user's terms. Anything else is a bug: one line names the
    command and the exception, and the traceback goes to the log (shown with -v).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotError as error:
            raise click.ClickException(redact(str(error))) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            step = ctx.invoked_subcommand or ctx.info_name or "bot"
            logging.getLogger("bot").info("internal error in %s", step, exc_info=True)  # shown with -v
            raise click.ClickException(
                redact(f"internal error in {step}: {type(error).__name__}: {error}; rerun with -v for details")
            ) from None


class Redact(logging.Filter):
    """Replaces secret values in every log record (`bot.redaction`): a library may log a URL with a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:  # a traceback's last line may quote a secret
            message += "\n" + redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = message, None
        return True


def _config(ctx: click.Context) -> Any:
    from bot.config import load_config

    return load_config(ctx.obj["config_path"])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $BOT_CONFIG, ./config.yaml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="paper-feed-bot")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """Paper Feed Bot: a weekly digest of new papers on your topics.

    \b
    Example:
      bot digest --week 2023-W18 --dry-run
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(Redact())
    for chatty in ("httpx", "httpcore", "apscheduler", "telegram", "slack_sdk", "arxiv"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    ctx.obj = {"config_path": config_path}


@cli.command()
@click.option("--week", metavar="YYYY-Www", help="ISO week, e.g. 2023-W18 (default: the last finished week).")
@click.option("--dry-run", is_flag=True, help="Print the digest; write nothing and send nothing.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of the label and fixed texts.")
@click.option("--refresh", is_flag=True, help="Rebuild the week's undelivered digest instead of the frozen one.")
@click.option("--force", is_flag=True, help="Resend the week to the channels even if already delivered.")
@click.option("--channel", type=click.Choice(CHANNELS), help="Deliver to this channel only.")
@click.option(
    "--explain",
    is_flag=True,
    help="Print why each paper ranked where it did, per topic, with three runners-up; sends nothing.",
)
@click.pass_context
def digest(
    ctx: click.Context, week: str | None, dry_run: bool, fmt: str, lang: str | None, refresh: bool, force: bool,
    channel: str | None, explain: bool,
) -> None:  # fmt: skip
    """Build the week's digest and deliver it to the configured channels.

    With no channel configured (or with --dry-run) the digest is printed. A week is delivered once per
    channel: a rerun sends only what is missing and says so.

    \b
    Examples:
      bot digest --week 2023-W18 --dry-run
      bot digest --week 2023-W18 --format json --lang en --dry-run
      bot digest --week 2023-W18 --channel telegram --force
      bot digest --week 2023-W18 --explain
    """
    from bot import pipeline
    from bot.channels import configured_channels
    from bot.progress import paper_progress
    from bot.render import render
    from bot.week import Week

    config = _config(ctx)
    target = Week.parse(week) if week else Week.last_finished()
    language = lang or config.digest.language
    printing = explain or dry_run or not configured_channels(config, channel)
    with _says_what_did_not_happen("printed nothing" if printing else "sent nothing"):
        if explain:
            with pipeline.open_store(config, read_only=True) as store, paper_progress(f"arXiv {target}") as progress:
                click.echo(pipeline.explain_ranking(config, store, target, progress), nl=False)
            return
        with pipeline.open_store(config, read_only=dry_run) as store, paper_progress(f"arXiv {target}") as progress:
            result = pipeline.publish(config, store, target, language=language, refresh=refresh, force=force,
                                      only=channel, progress=progress)  # fmt: skip
    if result.empty:
        # With channels, this is the run's summary line; a printed digest gets it on stderr.
        click.echo(f"{target}: empty week: nothing sent", err=printing)
        if not printing:
            return
    if not result.reports:
        click.echo(render(result.digest, fmt, language, config), nl=False)
        return
    for line in result.lines:
        click.echo(f"{target} {line}")
    if result.failed:
        raise click.ClickException(
            f"{target}: delivery failed on {', '.join(result.failed)}; rerun to send the missing parts"
        )
    if not any(r.sent for r in result.every_report):
        click.echo(f"{target}: nothing to send, already delivered to every channel (--force resends)")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of the label and fixed texts.")
@click.option("--keep", is_flag=True, help="Also freeze it into your store as a demo week (never delivered).")
@click.pass_context
def demo(ctx: click.Context, fmt: str, lang: str | None, keep: bool) -> None:
    """Print the digest of a recorded real week (2023-W20), without network.

    The week's arXiv records ship with the bot and are served by its loopback arXiv stand-in; your topics
    and templates make the digest. Nothing is sent; with --keep the digest is frozen into your store, marked
    as a demo, so `bot archive build`, `bot notes`, `bot status` and the readers' /last can be tried offline.

    \b
    Example:
      bot demo --lang en
      bot demo --keep && bot archive build site/
    """
    from bot import demo as recorded
    from bot.render import render

    config = _config(ctx)
    digest = recorded.demo_digest(config)
    click.echo(render(digest, fmt, lang or config.digest.language, config), nl=False)
    if keep:
        recorded.keep(config, digest)
        click.echo(f"kept {digest.week} in {config.store.path} as a demo week (never delivered): try bot status, "
                   f"bot notes --week {digest.week}, bot archive build", err=True)  # fmt: skip


@cli.command()
@click.argument("source", default="-")
@click.option("--explain", is_flag=True, help="Add which cues fired for which topic, with their points.")
@click.pass_context
def classify(ctx: click.Context, source: str, explain: bool) -> None:
    """Classify JSON lines (title, abstract, categories) from SOURCE or stdin.

    Writes one JSON line per input line, in order, with `topics`, `scores` and `tags` added
    (and `explain` with --explain). Other fields pass through unchanged.

    \b
    Example:
      bot classify papers.jsonl > classified.jsonl
      echo '{"title": "4-bit LLM quantization"}' | bot classify --explain
    """
    from bot.classify import Classifier
    from bot.labelled import paper_from_record

    config = _config(ctx)
    classifier = Classifier(config.topics, config.tags)
    name = "<stdin>" if source == "-" else source
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        record = _record(line, number, name)
        paper = classifier.classify(paper_from_record(record, f"{name} line {number}"))
        out = {**record, "topics": list(paper.topics), "scores": paper.scores, "tags": list(paper.tags)}
        if explain:
            out["explain"] = [vars(hit) for hit in classifier.explain(paper)]
        click.echo(json.dumps(out, ensure_ascii=False))


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the service: publish weekly, collect feeds daily, catch up at start.

    One service per store (a second one exits within 2 s, naming the first); the other commands work while it
    runs. Stops on SIGTERM / SIGINT.

    \b
    Example:
      BOT_CONFIG=/etc/paper-feed-bot/config.yaml bot run
    """
    from bot.pipeline import open_store
    from bot.service import Service

    if logging.getLogger().level > logging.INFO and not ctx.find_root().params["quiet"]:
        logging.getLogger().setLevel(logging.INFO)  # a service logs one line per event
    config = _config(ctx)
    store = open_store(config, service=True)
    store.lock_timeout = min(config.store.lock_timeout_seconds, 2.0)  # a second service says so at once
    with store:
        store.lock_timeout = config.store.lock_timeout_seconds
        Service(config, store).run()


@cli.command()
@click.option("--no-network", is_flag=True, help="Only validate the config and the environment variables.")
@click.pass_context
def check(ctx: click.Context, no_network: bool) -> None:
    """Check the config, the environment, arXiv, each feed and each channel's credentials (without posting).

    Prints one line per check; exits 1 if any failed.

    \b
    Example:
      bot --config config.yaml check
    """
    from bot.checks import run_checks
    from bot.errors import ConfigError

    try:
        config = _config(ctx)
    except ConfigError as error:  # one line per problem, each naming its key and the file
        for problem in error.problems:
            click.echo(redact(f"FAIL config: {problem}" + (f" ({error.source})" if error.source else "")))
        raise click.ClickException(f"{len(error.problems)} check(s) failed") from None
    failures = 0
    for name, ok, detail in run_checks(config, network=not no_network):
        failures += not ok
        click.echo(redact(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}"))
    if failures:
        raise click.ClickException(f"{failures} check(s) failed")


@cli.command()
@click.option(
    "--weeks", default=5, show_default=True, type=click.IntRange(min=1), help="How many recent digests to show."
)
@click.pass_context
def status(ctx: click.Context, weeks: int) -> None:
    """Show recent digests, each channel's delivery state, failing feeds and the next scheduled runs.

    Exits 1 when a part of the last digest failed to send (a health check for the service).

    \b
    Example:
      bot status --weeks 3
    """
    from bot.checks import status_lines

    lines, failure = status_lines(_config(ctx), weeks)
    for line in lines:
        click.echo(line)
    if failure:
        raise click.ClickException(failure)


@cli.command()
@click.option("--week", metavar="YYYY-Www", help="ISO week (default: the last finished week).")
@click.pass_context
def notes(ctx: click.Context, week: str | None) -> None:
    """Write a draft editor-notes file for a week: its papers and their current commentary.

    Never overwrites an existing file. Edit it, then rebuild the (undelivered) digest with --refresh.

    \b
    Example:
      bot notes --week 2023-W18 && $EDITOR notes/2023-W18.yaml
      bot digest --week 2023-W18 --refresh --dry-run
    """
    from bot import pipeline
    from bot.progress import paper_progress
    from bot.week import Week

    config = _config(ctx)
    target = Week.parse(week) if week else Week.last_finished()
    with (
        _says_what_did_not_happen("wrote no draft"),
        pipeline.open_store(config, read_only=True) as store,
        paper_progress(f"arXiv {target}") as progress,
    ):
        path = pipeline.draft_notes(config, store, target, progress)
    click.echo(f"wrote {path}")


@cli.group()
def archive() -> None:
    """The public archive: a static site of every published digest, with Atom feeds and search."""


@archive.command("build")
@click.argument("out_dir", required=False, metavar="[OUT_DIR]")
@click.option("--no-search", is_flag=True, help="Skip the Pagefind search index.")
@click.pass_context
def archive_build(ctx: click.Context, out_dir: str | None, no_search: bool) -> None:
    """Build the archive into OUT_DIR (default: archive.out_dir), replacing an earlier build.

    One page per week, per topic and per hashtag, `feed.xml` plus one Atom feed per topic, and a search
    index when the archive extra is installed (pip install 'paper-feed-bot[archive]').

    \b
    Example:
      bot archive build site/ && python -m http.server -d site
    """
    from pathlib import Path

    from bot.archive import build_archive
    from bot.pipeline import open_store

    config = _config(ctx)
    target = out_dir or config.archive.out_dir
    if not target:
        raise click.UsageError("give OUT_DIR or set archive.out_dir in the config")
    with open_store(config, read_only=True) as store:
        report = build_archive(store, config, Path(target), search=not no_search)
    click.echo(f"wrote {report.out_dir}: {report.line()}")


@cli.group()
def subscribers() -> None:
    """Readers with their own topics: email subscribers you add, Telegram readers who messaged the bot."""


@subscribers.command("add")
@click.argument("email")
@click.option("--topics", metavar="A,B", help="Comma-separated topics (default: every topic).")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of their digest (default: digest.language).")
@click.pass_context
def subscribers_add(ctx: click.Context, email: str, topics: str | None, lang: str | None) -> None:
    """Subscribe an email address (or change an existing reader's topics and language).

    Each week they get the digest filtered to their topics, with a List-Unsubscribe header and line.

    \b
    Example:
      bot subscribers add ada@example.org --topics diffusion,mllm --lang en
    """
    from bot.pipeline import open_store
    from bot.subscribers import Subscribers

    config = _config(ctx)
    with open_store(config) as store:
        reader = Subscribers(store, config).add("email", email, topics.split(",") if topics else None, lang)
    click.echo(f"subscribed {reader.id}: {', '.join(reader.topics)} ({reader.language})")
    if config.channels.email is None:
        click.echo("warning: no email channel is configured (channels.email): they get nothing until one is", err=True)


@subscribers.command("remove")
@click.argument("reader", required=False)
@click.option("--token", help="The token of an unsubscribe request (the subject of the mail it sent).")
@click.pass_context
def subscribers_remove(ctx: click.Context, reader: str | None, token: str | None) -> None:
    """Unsubscribe a reader: an email address, `telegram:<chat id>` as `list` shows it, or the token of an
    unsubscribe mail (`unsubscribe <token>`).

    \b
    Example:
      bot subscribers remove ada@example.org
      bot subscribers remove telegram:123456789
      bot subscribers remove --token Zq3...
    """
    from bot.pipeline import open_store
    from bot.subscribers import Subscribers, parse_reader

    if (reader is None) == (token is None):
        raise click.UsageError("give a READER or --token, not both")
    config = _config(ctx)
    with open_store(config) as store:
        readers = Subscribers(store, config)
        if token is not None:
            gone = readers.remove_by_token(token.strip())
            if gone is None:
                raise BotError("no reader has this token: already unsubscribed, or mistyped")
            click.echo(f"unsubscribed {gone.id}")
            return
        kind, address = parse_reader(reader or "")
        if not readers.remove(kind, address):
            raise BotError(f"{kind}:{address} is not subscribed (see bot subscribers list)")
    click.echo(f"unsubscribed {kind}:{address}")


@subscribers.command("list")
@click.option("--kind", type=click.Choice(["telegram", "email"]), help="Only readers of this channel.")
@click.pass_context
def subscribers_list(ctx: click.Context, kind: str | None) -> None:
    """List readers: id, topics, language, since, and whether they are active (and why not).

    \b
    Example:
      bot subscribers list --kind email
    """
    from bot.pipeline import open_store
    from bot.subscribers import Subscribers, check_email, shown

    config = _config(ctx)
    with open_store(config, read_only=True) as store:
        readers = Subscribers(store, config).all(kind)
    for reader in readers:
        state = "active" if reader.active else f"inactive ({reader.note})"
        if reader.kind == "email":
            try:
                check_email(reader.address, smtputf8=True)
            except BotError as error:  # a row an older version let in: shown escaped, removable as shown
                state += f"; not deliverable: {str(error).split(': ', 1)[-1]}"
        who = f"{reader.kind}:{shown(reader.address)}"
        click.echo("\t".join((who, ",".join(reader.topics), reader.language, reader.since, state)))
    if not readers:
        click.echo("no subscribers", err=True)


@contextmanager
def _says_what_did_not_happen(words: str) -> Iterator[None]:
    """A source failure ends the command: its one line also says what the command did not do."""
    try:
        yield
    except SourceError as error:
        raise BotError(f"{error}; {words}") from None


def _lines(source: str) -> Iterator[str]:
    """The lines of a UTF-8 file, or of stdin for `-`; a missing or undecodable file is a BotError."""
    name = "<stdin>" if source == "-" else source
    try:
        with click.open_file(source, "r", encoding="utf-8") as file:
            yield from file
    except OSError as error:
        raise BotError(f"cannot read {name}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise BotError(f"{name} is not UTF-8 text ({error.reason} at byte {error.start})") from None


def _record(line: str, number: int, name: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise BotError(f"{name} line {number}: invalid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise BotError(f"{name} line {number}: expected a JSON object")
    return record


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bot")

"""`bot run`: the long-running service — a weekly publish job, a daily collect job, and catch-up at start;
with Telegram configured, the bot also answers readers' private messages (`bot.telegram_bot`).

What is due is decided from the store's ledger, not from the scheduler's memory: at start-up the latest week
whose publish time has passed is published (which sends only what the ledger lacks, so a restart sends
nothing new). The store's lock is held for the service's whole life. SIGTERM / SIGINT stop new work; an
in-flight delivery stops between parts (the ledger stays consistent) and the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from bot import curated, pipeline
from bot.alerts import send_alert
from bot.config import Config, ScheduleEntry
from bot.errors import BotError
from bot.store import Store
from bot.week import Week

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 12.0
MAX_RETRY_SECONDS = 6 * 3600.0
MAX_CATCH_UP_WEEKS = 12


def publish_time(week: Week, entry: ScheduleEntry) -> datetime:
    """When the publish job first runs after the week has ended."""
    fire: datetime = entry.trigger().get_next_fire_time(None, week.end)
    return fire


def weeks_to_publish(store: Store, due: Week) -> list[Week]:
    """The due week and every finished week since the last frozen digest: a week a failure or downtime left
    behind is published too (each publish sends only what the ledger lacks, so a complete week costs nothing)."""
    frozen = [Week.parse(row["week"]) for row in store.table("digests").all() if not row.get("demo")]
    week = min(max(frozen), due) if frozen else due
    weeks = [week]
    while weeks[-1] < due:
        weeks.append(Week.containing(weeks[-1].end))
    if len(weeks) > MAX_CATCH_UP_WEEKS:
        log.warning("%d weeks behind: publishing the last %d", len(weeks), MAX_CATCH_UP_WEEKS)
    return weeks[-MAX_CATCH_UP_WEEKS:]


def due_week(now: datetime, entry: ScheduleEntry) -> Week:
    """The latest week whose publish time has passed."""
    week = Week.last_finished(now)
    return week if publish_time(week, entry) <= now else week.previous()


def next_runs(config: Config, now: datetime) -> dict[str, datetime]:
    """The next publish and collect times."""
    runs = {"publish": config.schedule.publish.trigger().get_next_fire_time(None, now)}
    if config.sources.feeds:
        runs["collect"] = config.schedule.collect.trigger().get_next_fire_time(None, now)
    return runs


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Service:
    """The scheduler around one open store."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self._work = threading.Lock()  # TinyDB is not thread-safe: one job at a time
        self.failures = 0  # failed publish runs in a row
        self.scheduler: Any = None

    def publish_due(self) -> None:
        """Publish the due week and any week left behind; after a failure, try again later with backoff.

        Each publish is a no-op where the ledger says a week reached every channel. The first failure of a
        streak alerts the operator; retries wait `schedule.retry_seconds`, doubling up to 6 h.
        """
        self._job("publish", self._publish_due, alert=False)

    def _publish_due(self) -> str | None:
        problems = []
        try:
            weeks = weeks_to_publish(self.store, due_week(datetime.now(UTC), self.config.schedule.publish))
        except Exception as error:  # (a store that cannot be read): alerted and retried like any failed week
            log.exception("publish: cannot tell which weeks are due")
            weeks, problems = [], [f"publish failed: {_describe(error)}"]
        for week in weeks:
            if self.stopping.is_set():
                return None  # a shutdown is no failure to retry
            log.info("publish %s: started", week)
            try:
                problem = self._publish(week)
            except BotError as error:
                problem = f"publishing {week} failed: {error}"
            except Exception as error:  # a bug or an input nothing foresaw: alerted and retried, never silent
                log.exception("publish %s failed unexpectedly", week)
                problem = f"publishing {week} failed unexpectedly: {_describe(error)}"
            (log.error if problem else log.info)("publish %s: %s", week, problem or "done")
            problems += [problem] if problem else []
        self._rebuild_archive()
        if not problems:
            if self.failures:
                log.info("publish succeeded after %d failed attempt(s)", self.failures)
            self.failures = 0
            return None
        if self.stopping.is_set():
            return None
        self.failures += 1
        wait = min(self.config.schedule.retry_seconds * 2 ** (self.failures - 1), MAX_RETRY_SECONDS)
        log.warning("publish failed (%d in a row); retrying in %.0f s", self.failures, wait)
        if self.failures == 1:
            send_alert(self.config, "; ".join(problems) + f" (retrying in {wait:.0f} s)")
        if self.scheduler is not None:
            when = datetime.now(UTC) + timedelta(seconds=wait)
            self.scheduler.add_job(self.publish_due, "date", run_date=when, id="retry", replace_existing=True)
        return "; ".join(problems)

    def _rebuild_archive(self) -> None:
        """Rebuild the public archive when `archive.out_dir` is set; a failure is logged, never a failed publish."""
        out_dir = self.config.archive.out_dir
        if not out_dir or self.stopping.is_set():
            return
        from bot.archive import build_archive

        try:
            report = build_archive(self.store, self.config, Path(out_dir))
        except BotError as error:
            log.error("archive: %s", error)
            return
        except Exception:  # the archive fails alone: the week is delivered already
            log.exception("archive: the build failed unexpectedly; the digest was delivered all the same")
            return
        log.info("archive: %s in %s", report.line(), report.out_dir)

    def _publish(self, week: Week) -> str | None:
        """Publish one week; what failed, or None."""
        result = pipeline.publish(self.config, self.store, week, should_stop=self.stopping.is_set)
        for report in result.every_report:
            (log.info if report.ok else log.error)("publish %s %s", week, report.line())
        failed = [r.line() for r in result.every_report if not r.ok and not self.stopping.is_set()]
        if result.empty:
            log.warning("publish %s: empty week: nothing sent", week)
        elif not result.reports:
            log.info("publish %s: %d items frozen (no channel configured)", week, len(result.digest.items))
        return f"publishing {week} failed: " + "; ".join(failed) if failed else None

    def _reader_bot(self) -> Any:
        """Start answering readers' messages when Telegram is configured with subscriptions on (the default)."""
        telegram = self.config.channels.telegram
        if telegram is None or not telegram.subscriptions:
            return None
        from bot.telegram_bot import ReaderBot

        readers = ReaderBot(self.config, self.store)
        readers.start()
        return readers

    def _web_server(self, readers: Any) -> Any:
        """Serve one-click unsubscribe (`service.public_url`) and the Telegram webhook, when either is on."""
        webhook = readers is not None and bool(
            self.config.channels.telegram and self.config.channels.telegram.webhook_url
        )
        if not (self.config.service.public_url or webhook):
            return None
        from bot.web import WebServer

        web = WebServer(self.config, self.store, readers.take_update if webhook else None,
                        readers.webhook_path if webhook else "", readers.secret_token if webhook else "")  # fmt: skip
        web.start()
        return web

    def collect(self) -> None:
        """Refresh the curated feeds into the store."""
        week = Week.containing(datetime.now(UTC))

        def collect() -> None:
            results = curated.fetch_all(self.config, self.store, week)
            for name in curated.record(self.store, results, datetime.now(UTC)):
                send_alert(self.config, f"feed {name} failed {curated.LOUD_AFTER} times in a row")

        self._job("collect", collect)

    def _job(self, name: str, work: Any, *, alert: bool = True) -> str | None:
        """Run one job under the store's one-at-a-time lock; what failed, or None."""
        if self.stopping.is_set():
            return None
        with self._work:
            self.idle.clear()
            problem = None
            try:
                log.info("%s: started", name)
                problem = work()
                (log.error if problem else log.info)("%s: %s", name, "failed" if problem else "done")
            except BotError as error:
                log.error("%s failed: %s", name, error)
                problem = f"{name} failed: {error}"
            except Exception as error:
                log.exception("%s failed unexpectedly", name)
                problem = f"{name} failed unexpectedly: {_describe(error)}"
            finally:
                self.idle.set()
            if problem and alert:
                send_alert(self.config, problem)
            return problem

    def run(self) -> None:
        """Schedule the jobs, catch up, and block until SIGTERM / SIGINT."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": 6 * 3600, "coalesce": True, "max_instances": 1},
        )
        self.scheduler = scheduler
        scheduler.add_job(self.publish_due, self.config.schedule.publish.trigger(), id="publish")
        if self.config.sources.feeds:
            scheduler.add_job(self.collect, self.config.schedule.collect.trigger(), id="collect")
        scheduler.add_job(self.publish_due, id="catch-up", next_run_time=datetime.now(UTC))

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.stopping.set()
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        readers = self._reader_bot()
        web = self._web_server(readers)
        for name, when in next_runs(self.config, datetime.now(UTC)).items():
            log.info("next %s: %s", name, when.isoformat())
        log.info("service started (store %s, pid %d)", self.store.path, os.getpid())
        scheduler.start()
        if web is not None:
            web.stop()
        if readers is not None:
            readers.stop()
        if not self.idle.wait(SHUTDOWN_GRACE_SECONDS):
            # Every ledger write is atomic; a part left pending is resolved by delivery.on_ambiguous next run.
            log.warning("a job is still running after %.0f s; exiting without waiting for it", SHUTDOWN_GRACE_SECONDS)
            logging.shutdown()
            os._exit(0)
        log.info("service stopped")

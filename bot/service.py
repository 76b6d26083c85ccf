"""`bot run`: the long-running service — a weekly publish job, a daily collect job, and catch-up at start.

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
from datetime import UTC, datetime
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


def publish_time(week: Week, entry: ScheduleEntry) -> datetime:
    """When the publish job first runs after the week has ended."""
    fire: datetime = entry.trigger().get_next_fire_time(None, week.end)
    return fire


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


class Service:
    """The scheduler around one open store."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self._work = threading.Lock()  # TinyDB is not thread-safe: one job at a time

    def publish_due(self) -> None:
        """Publish the due week (a no-op when the ledger says it is delivered everywhere)."""
        week = due_week(datetime.now(UTC), self.config.schedule.publish)
        self._job(f"publish {week}", lambda: self._publish(week))

    def _publish(self, week: Week) -> None:
        result = pipeline.publish(self.config, self.store, week, should_stop=self.stopping.is_set)
        for report in result.reports:
            (log.info if report.ok else log.error)("publish %s %s", week, report.line())
        failed = [r.line() for r in result.reports if not r.ok and not self.stopping.is_set()]
        if failed:
            send_alert(self.config, f"publishing {week} failed: " + "; ".join(failed))
        if result.empty:
            log.warning("publish %s: empty week: nothing sent", week)
        elif not result.reports:
            log.info("publish %s: %d items frozen (no channel configured)", week, len(result.digest.items))

    def collect(self) -> None:
        """Refresh the curated feeds into the store."""
        week = Week.containing(datetime.now(UTC))

        def collect() -> None:
            results = curated.fetch_all(self.config, self.store, week)
            for name in curated.record(self.store, results, datetime.now(UTC)):
                send_alert(self.config, f"feed {name} failed {curated.LOUD_AFTER} times in a row")

        self._job("collect", collect)

    def _job(self, name: str, work: Any) -> None:
        if self.stopping.is_set():
            return
        with self._work:
            self.idle.clear()
            try:
                log.info("%s: started", name)
                work()
                log.info("%s: done", name)
            except BotError as error:
                log.error("%s failed: %s", name, error)
                send_alert(self.config, f"{name} failed: {error}")
            except Exception:
                log.exception("%s failed unexpectedly", name)
            finally:
                self.idle.set()

    def run(self) -> None:
        """Schedule the jobs, catch up, and block until SIGTERM / SIGINT."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": 6 * 3600, "coalesce": True, "max_instances": 1},
        )
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
        for name, when in next_runs(self.config, datetime.now(UTC)).items():
            log.info("next %s: %s", name, when.isoformat())
        log.info("service started (store %s, pid %d)", self.store.path, os.getpid())
        scheduler.start()
        if not self.idle.wait(SHUTDOWN_GRACE_SECONDS):
            # Every ledger write is atomic; a part left pending is resolved by delivery.on_ambiguous next run.
            log.warning("a job is still running after %.0f s; exiting without waiting for it", SHUTDOWN_GRACE_SECONDS)
            logging.shutdown()
            os._exit(0)
        log.info("service stopped")

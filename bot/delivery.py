"""Deliver a frozen digest to every channel exactly once, as far as each remote API allows.

For each part: skip it if the ledger says sent (with the same content); otherwise record it pending, send,
record it sent with the remote id. A part still pending from a crash is the one ambiguous case:
`on_ambiguous` decides (resend it, or count it sent). A failing channel never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from bot.channels import Channel, Part
from bot.channels.base import SendHooks
from bot.config import Config
from bot.digest import Digest
from bot.errors import DeliveryError, StoreError
from bot.ledger import FAILED, PENDING, SENT, Ledger

log = logging.getLogger(__name__)
StopCheck = Callable[[], bool] | None


@dataclass
class ChannelReport:
    """What one channel did in one run."""

    channel: str
    total: int = 0
    sent: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    ambiguous: int = 0  # parts whose send may or may not have arrived (left pending)

    @property
    def ok(self) -> bool:
        """No part failed."""
        return not self.failed

    def line(self) -> str:
        """One summary line for the user."""
        state = "ok" if self.ok else "FAILED"
        ambiguous = f" ({self.ambiguous} ambiguous)" if self.ambiguous else ""
        done = (
            f"{self.sent} sent, {self.skipped} already delivered, {len(self.failed)} failed{ambiguous} of {self.total}"
        )
        return f"{self.channel}: {state}: {done}" + (f" ({'; '.join(self.failed)})" if self.failed else "")


def deliver_channel(
    ledger: Ledger, channel: Channel, digest: Digest, language: str, config: Config, should_stop: StopCheck = None
) -> ChannelReport:
    """Send the parts of one channel that the ledger does not record as sent."""
    week = str(digest.week)
    parts = channel.parts(digest, language, config)
    rows = ledger.rows(week, channel.name)
    report = ChannelReport(channel.name, total=len(parts))
    for part in parts:
        if should_stop is not None and should_stop():
            report.failed.append(f"stopped before part {part.id} (shutting down; the next run sends the rest)")
            break
        row = rows.get((channel.name, part.id))
        looked, found = _look(channel, part, row.get("at", "")) if row and row["status"] == PENDING else (False, None)
        if found is not None:  # left pending by an earlier run, and the channel shows it arrived
            ledger.record(channel.name, week, part.id, part.hash, SENT, remote_id=found)
            log.info("%s %s part %s: found in the channel (%s), not resent", channel.name, week, part.id, found)
            report.skipped += 1
            continue
        if row and row["status"] == PENDING and channel.resolves and not looked:
            # The channel could tell, but the lookup failed: guessing could lose or repeat the part; ask again
            # on the next run.
            report.failed.append(f"part {part.id}: left pending; could not look it up in the channel, try again")
            report.ambiguous += 1
            if channel.ordered:
                break
            continue
        # Looked and not there: it never arrived, so it is sent whatever the policy; else the policy decides.
        if row and row["status"] == PENDING and not looked and config.delivery.on_ambiguous == "skip":
            log.warning("%s %s part %s: left pending by an earlier run; counted as sent", channel.name, week, part.id)
            ledger.record(channel.name, week, part.id, part.hash, SENT, error="ambiguous, skipped")
            report.skipped += 1
            continue
        if row and row["status"] == SENT:
            report.skipped += 1
            continue
        try:
            remote_id = channel.send(part, _ledger_hooks(ledger, channel.name, week, part))
        except DeliveryError as error:
            _, found = _look(channel, part, datetime.now(UTC).isoformat()) if error.ambiguous else (False, None)
            if found is None:
                if error.ambiguous:  # left pending: the next run looks again, or delivery.on_ambiguous decides
                    report.ambiguous += 1
                else:
                    ledger.record(channel.name, week, part.id, part.hash, FAILED, error=str(error))
                report.failed.append(f"part {part.id}: {error}")
                log.error("%s %s part %s failed: %s", channel.name, week, part.id, error)
                if channel.ordered:
                    break
                continue
            remote_id = found  # the answer was lost, but the channel shows the part arrived
        # A part an earlier run left pending, resent without looking: it may now be there twice.
        resent = "ambiguous, resent" if row and row["status"] == PENDING and not looked else ""
        try:
            ledger.record(channel.name, week, part.id, part.hash, SENT, remote_id=remote_id, error=resent)
        except StoreError as error:
            # The part left but the ledger cannot say so: stop everything now rather than guess further.
            raise StoreError(
                f"{error}; {channel.name} {week} part {part.id} was sent but stays pending in the ledger "
                "(delivery.on_ambiguous decides on the next run); delivery stopped"
            ) from None
        report.sent += 1
        log.info("%s %s part %s sent (%s)", channel.name, week, part.id, remote_id)
    return report


def _ledger_hooks(ledger: Ledger, channel: str, week: str, part: Part) -> SendHooks:
    """Pending right before each request; failed (not delivered) before each wait for a retry."""

    def refused(reason: str) -> None:
        ledger.record(channel, week, part.id, part.hash, FAILED, error=reason)

    return SendHooks(before_request=partial(ledger.mark_pending, channel, week, part.id, part.hash), refused=refused)


def _look(channel: Channel, part: Part, since: str) -> tuple[bool, str | None]:
    """Whether the channel could be asked if the part arrived (sent around `since`), and its remote id if it did."""
    if not channel.resolves:
        return False, None
    try:
        return True, channel.resolve(part, since)
    except DeliveryError as error:
        log.warning("%s part %s: %s", channel.name, part.id, error)
        return False, None


def deliver(
    ledger: Ledger,
    channels: list[Channel],
    digest: Digest,
    language: str,
    config: Config,
    should_stop: StopCheck = None,
) -> list[ChannelReport]:
    """Deliver to every channel, then report; one channel's failure never stops another."""
    reports = []
    for channel in channels:
        try:
            reports.append(deliver_channel(ledger, channel, digest, language, config, should_stop))
        finally:
            channel.close()
    return reports

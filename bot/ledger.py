"""The delivery ledger: one row per (channel, week, part) — pending before a send, sent after it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.store import Q, Store

PENDING, SENT, FAILED = "pending", "sent", "failed"


class Ledger:
    """What was delivered where; every change is one atomic store write, made before or after a send."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.table("deliveries")

    def rows(self, week: str, channel: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The week's rows keyed by (channel, part)."""
        query = (Q.week == week) & (Q.channel == channel) if channel else Q.week == week
        return {(r["channel"], r["part"]): dict(r) for r in self.table.search(query)}

    def record(self, channel: str, week: str, part: str, content_hash: str, status: str, remote_id: str = "",
               error: str = "") -> None:  # fmt: skip
        """Set a part's state."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        row = {"channel": channel, "week": week, "part": part, "hash": content_hash, "status": status,
               "remote_id": remote_id, "error": error, "at": now}  # fmt: skip
        self.table.upsert(row, (Q.channel == channel) & (Q.week == week) & (Q.part == part))

    def mark_pending(self, channel: str, week: str, part: str, content_hash: str) -> None:
        """Mark a part pending right before its request: the store file only (see `Store.without_backup`)."""
        with self.store.without_backup():
            self.record(channel, week, part, content_hash, PENDING)

    def forget(self, week: str, channel: str | None = None) -> None:
        """Drop a week's rows (for `--force`), so every part is sent again."""
        self.table.remove((Q.week == week) & (Q.channel == channel) if channel else Q.week == week)

    def delivered_anything(self, week: str) -> bool:
        """Whether any part of the week was sent or may have been."""
        return any(r["status"] in (SENT, PENDING) for r in self.rows(week).values())

"""ISO weeks: the digest's unit of time, its UTC window and its roundup label in ko / en / zh."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.errors import WeekError

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
LANGUAGES = ("ko", "en", "zh")


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week, Monday 00:00 UTC to the next Monday 00:00 UTC."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """Parse `2023-W18`; raise WeekError with an example on anything else."""
        match = _WEEK_RE.match(text.strip().upper())  # 2023-w18 is the same week
        if not match:
            raise WeekError(f"invalid week {text!r}: expected an ISO week such as 2023-W18")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise WeekError(f"invalid week {text!r}: {year} has no week {number}") from None
        return cls(year, number)

    @classmethod
    def containing(cls, moment: datetime) -> Week:
        """The week that contains a (tz-aware) moment, in UTC."""
        iso = moment.astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_finished(cls, now: datetime | None = None) -> Week:
        """The most recent week whose Sunday has ended (UTC)."""
        moment = now or datetime.now(UTC)
        return cls.containing(moment).previous()

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC."""
        return datetime.combine(self.monday, datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive)."""
        return self.start + timedelta(days=7)

    def days(self) -> list[date]:
        """Monday to Sunday."""
        return [self.monday + timedelta(days=i) for i in range(7)]

    def previous(self) -> Week:
        """The week before this one."""
        return Week.containing(self.start - timedelta(days=1))

    def require_finished(self, now: datetime | None = None) -> None:
        """Raise WeekError unless the week has ended: a digest of a week still running would miss papers."""
        moment = now or datetime.now(UTC)
        if self.end > moment:
            state = "has not started" if self.start > moment else "has not finished"
            raise WeekError(
                f"week {self} {state} (it ends {self.end:%Y-%m-%d %H:%M} UTC); the last finished week is "
                f"{Week.last_finished(moment)}"
            )

    def contains(self, moment: datetime) -> bool:
        """Whether a tz-aware moment falls inside the week's UTC window."""
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def label(self, language: str) -> str:
        """The roundup's name for the week: the month holding its Thursday, and the week of that month."""
        thursday = self.monday + timedelta(days=3)
        nth = (thursday.day - 1) // 7 + 1
        if language == "ko":
            return f"{thursday.year}년 {thursday.month}월 {nth}주차"
        if language == "zh":
            return f"{thursday.year}年{thursday.month}月第{nth}周"
        if language == "en":
            return f"Week {nth} of {_MONTHS[thursday.month - 1]} {thursday.year} ({self._span_en()})"
        raise WeekError(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")

    def _span_en(self) -> str:
        first, last = self.monday, self.monday + timedelta(days=6)
        if first.month == last.month:
            return f"{_MONTHS[first.month - 1][:3]} {first.day}–{last.day}"
        return f"{_MONTHS[first.month - 1][:3]} {first.day} – {_MONTHS[last.month - 1][:3]} {last.day}"

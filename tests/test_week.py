from datetime import UTC, datetime

import pytest

from bot.errors import WeekError
from bot.week import Week


@pytest.mark.parametrize(
    ("week", "language", "label"),
    [
        ("2023-W18", "ko", "2023년 5월 1주차"),
        ("2023-W18", "en", "Week 1 of May 2023 (May 1–7)"),
        ("2023-W18", "zh", "2023年5月第1周"),
        ("2023-W22", "ko", "2023년 6월 1주차"),
        ("2023-W22", "en", "Week 1 of June 2023 (May 29 – Jun 4)"),
        ("2023-W22", "zh", "2023年6月第1周"),
    ],
)
def test_labels_match_the_digest_format_table(week: str, language: str, label: str) -> None:
    assert Week.parse(week).label(language) == label


def test_week_of_month_counts_from_the_thursday() -> None:
    # 2023-W21 is May 22–28: Thursday May 25 is the 4th week of May.
    assert Week.parse("2023-W21").label("ko") == "2023년 5월 4주차"
    # 2020-W53 (Dec 28 – Jan 3) belongs to December 2020 (Thursday Dec 31).
    assert Week.parse("2020-W53").label("en") == "Week 5 of December 2020 (Dec 28 – Jan 3)"


def test_window_is_monday_to_next_monday_utc() -> None:
    week = Week.parse("2023-W18")
    assert week.start == datetime(2023, 5, 1, tzinfo=UTC)
    assert week.end == datetime(2023, 5, 8, tzinfo=UTC)
    assert week.contains(datetime(2023, 5, 7, 23, 59, 59, tzinfo=UTC))
    assert not week.contains(datetime(2023, 5, 8, tzinfo=UTC))


@pytest.mark.parametrize("text", ["2023-18", "2023-W60", "2021-W53", "W18", ""])
def test_bad_weeks_are_clear_errors(text: str) -> None:
    with pytest.raises(WeekError, match=r"2023-W18|has no week"):
        Week.parse(text)


def test_last_finished_week() -> None:
    assert Week.last_finished(datetime(2023, 5, 9, 3, tzinfo=UTC)) == Week.parse("2023-W18")
    assert Week.last_finished(datetime(2023, 5, 8, 0, tzinfo=UTC)) == Week.parse("2023-W18")
    assert Week.last_finished(datetime(2023, 5, 7, 23, tzinfo=UTC)) == Week.parse("2023-W17")

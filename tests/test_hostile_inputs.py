"""One bad input never stops the week: hostile text and numbers from feeds, models and old stores."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, FeedConfig
from bot.digest import Digest, DigestItem, freeze_digest, load_digest
from bot.errors import StoreError
from bot.paper import Paper, paper_to_dict
from bot.sources.feeds import papers_from_feed, papers_from_hf, parse_feed
from bot.store import Store
from bot.week import Week
from tests.chat_standins import TelegramStandIn

WriteConfig = Callable[..., Path]

WEEK = Week.parse("2023-W18")
HF = FeedConfig(name="HF", url="http://127.0.0.1:9/hf", kind="hf_daily")
anything = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)  # surrogates and controls too


def hf_entry(paper_id: str = "2305.01115", **paper: object) -> dict[str, object]:
    return {"paper": {"id": paper_id, "title": "A paper", "summary": "An abstract.", "authors": [{"name": "Ada"}],
                      "upvotes": 3, "publishedAt": "2023-05-02T10:00:00.000Z", **paper}}  # fmt: skip


def test_a_failed_store_write_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    # TinyDB changes its in-memory table before writing: a row orjson cannot serialise used to stay there, and
    # every later write (a reader's /start included) failed until a restart.
    with Store(tmp_path / "s.json") as store:
        store.table("feeds").insert({"name": "ok", "failures": 0})
        with pytest.raises(StoreError, match=r"s\.json: a value it cannot hold .*surrogates"):
            store.table("commentary").insert({"id": "x", "text": "\ud800"})
        with pytest.raises(StoreError, match="64-bit"), store.batch():  # the whole batch goes, not half of it
            store.table("commentary").insert({"id": "y", "text": "fine"})
            store.table("feeds").insert({"name": "huge", "failures": 10**30})
        assert store.table("commentary").all() == [] and [r["name"] for r in store.table("feeds").all()] == ["ok"]
        store.table("commentary").insert({"id": "z", "text": "later writes work"})
    with Store(tmp_path / "s.json") as store:
        assert [r["id"] for r in store.table("commentary").all()] == ["z"]


def test_hf_numbers_and_dates_past_any_range_are_clamped_or_skipped() -> None:
    entries = [hf_entry(upvotes=10**30), hf_entry("2305.01116", publishedAt="9999-12-31T23:59:59-14:00"),
               hf_entry("2305.01117")]  # fmt: skip
    papers = papers_from_hf(entries, HF)
    assert [p.key for p in papers] == ["2305.01115", "2305.01117"]  # the year-10000 date is skipped
    assert papers[0].upvotes == 10**9
    json.dumps(paper_to_dict(papers[0]))


def test_an_rss_character_reference_to_a_surrogate_loses_one_character_not_the_feed() -> None:
    # feedparser's loose parser raised UnicodeEncodeError on `&#xD800;`: the whole feed was lost.
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
           b"<item><title>Fast &#xD800;&#1114112;decoding\xef\xbf\xbe.</title>"
           b"<link>https://arxiv.org/abs/2305.01115</link>"
           b"<category>llm\x01</category></item>"
           b"<item><title>Second</title><link>https://arxiv.org/abs/2305.01116</link></item>"
           b"</channel></rss>")  # fmt: skip
    parsed = parse_feed(rss, "application/rss+xml", "https://blog.example/feed")
    papers = papers_from_feed(parsed, FeedConfig(name="blog", url="https://blog.example/feed"), datetime.now(UTC))
    assert [p.title for p in papers] == ["Fast \ufffd\ufffddecoding", "Second"]  # no U+FFFE, no trailing period
    assert papers[0].categories in ((), ("llm",))


def test_an_old_frozen_digest_with_unwritable_characters_still_builds_the_archive(tmp_path: Path) -> None:
    from bot.archive import build_archive

    item = {"key": "2305.01115", "url": "https://arxiv.org/abs/2305.01115", "title": "Odd \ufffe\x07 title",
            "authors": ["A\ufdd0"], "published": "2023-05-02T00:00:00+00:00", "categories": ["cs.LG"],
            "topics": ["llm-efficiency"], "tags": ["kv\x1bcache"], "score": 1.0, "commentary": "Bad \uffff one.",
            "sources": ["arXiv"]}  # fmt: skip
    with Store(tmp_path / "s.json") as store:
        store.table("digests").insert({"week": str(WEEK), "items": [item]})
        report = build_archive(store, Config(), tmp_path / "site")
    assert report.weeks == 1
    site = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))
    assert "Odd  title" in site or "Odd title" in site
    assert "\ufffe" not in site and "\x07" not in site


hostile_paper = st.fixed_dictionaries({
    "title": anything.filter(lambda t: any(c.isalnum() for c in t)), "summary": anything,
    "authors": st.lists(st.fixed_dictionaries({"name": anything}), max_size=3),
    "upvotes": st.integers(min_value=0, max_value=10**40),
})  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=hostile_paper, commentary=anything)
def test_arbitrary_unicode_goes_from_a_feed_to_every_channel_the_store_and_the_archive(
    fields: dict[str, object], commentary: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from bot.archive import build_archive
    from bot.channels.email import EmailChannel
    from bot.channels.slack import SlackChannel
    from bot.channels.telegram import TelegramChannel
    from bot.config import EmailConfig, SlackConfig, TelegramConfig
    from bot.render import render, render_notes

    [paper] = papers_from_hf([hf_entry(**fields)], HF)
    for text in (paper.title, paper.abstract, *paper.authors):
        text.encode("utf-8")  # a lone surrogate raised here, and in every store write and channel
    item = DigestItem.from_paper(paper, commentary)
    digest = Digest(WEEK, (item,))
    outputs = [render(digest, fmt, "en", Config()) for fmt in ("text", "markdown", "json")]
    outputs.append(render_notes(digest, "en"))
    telegram = TelegramChannel(TelegramConfig(token="1:x", chat_id=1, base_url="http://127.0.0.1:9/bot"))
    outputs += [part.payload for part in telegram.parts(digest, "en", Config())]
    slack = SlackChannel(SlackConfig(webhook_url="http://127.0.0.1:9/x"))
    outputs += [json.dumps(part.payload, ensure_ascii=False) for part in slack.parts(digest, "en", Config())]
    email = EmailChannel(EmailConfig(host="h", sender="bot@example.org", recipients=["a@example.org"]))
    outputs += [p.payload["html"] + p.payload["text"] for p in email.parts(digest, "en", Config())]
    for output in outputs:
        output.encode("utf-8")
    folder = tmp_path_factory.mktemp("week")
    with Store(folder / "s.json") as store:
        freeze_digest(store, digest)
        assert load_digest(store, WEEK) == digest
        assert build_archive(store, Config(), folder / "site", search=False).weeks == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | anything,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(anything, inner, max_size=4),
    max_leaves=12,
)
hf_like = st.fixed_dictionaries(
    {
        "paper": st.fixed_dictionaries(
            {"id": st.sampled_from(["2305.01115", "x"]) | anything},
            optional={
                "title": json_values,
                "summary": json_values,
                "authors": json_values,
                "upvotes": json_values,
                "publishedAt": json_values,
            },
        )
    },
    optional={"title": json_values, "publishedAt": json_values},
)


@settings(max_examples=200, deadline=None)
@given(data=st.lists(hf_like | json_values, max_size=4) | json_values)
def test_arbitrary_json_through_the_hf_parser_gives_papers_or_a_value_error(data: object) -> None:
    try:
        papers = papers_from_hf(data, HF)
    except ValueError:
        assert not isinstance(data, list)  # only an answer that is not a list fails the feed
        return
    for paper in papers:
        assert isinstance(paper, Paper)
        json.dumps(paper_to_dict(paper)).encode("utf-8")
        assert 0 <= paper.upvotes <= 10**9


def test_a_model_answer_with_a_lone_surrogate_is_stored_clean(tmp_path: Path) -> None:
    from bot.config import LLMConfig
    from bot.llm import Commentary, llm_commentary
    from tests.standins import ChatStandIn, serve

    model = ChatStandIn(answer=lambda prompt: "Caches \ud800keys\ufffe \x1b[2Jwell.")
    paper = Paper(key="2305.01115", title="KV caching", authors=("Ada",), abstract="We cache keys.",
                  url="https://arxiv.org/abs/2305.01115", published=datetime(2023, 5, 2, tzinfo=UTC))  # fmt: skip
    with serve(model.handle) as base, Store(tmp_path / "s.json") as store:
        config = LLMConfig(base_url=f"{base}/v1", model="m")
        assert llm_commentary([paper], config, "en", 300, store, []) == {paper.key: Commentary("Caches keys well.")}
    assert "Caches keys well." in (tmp_path / "s.json").read_text(encoding="utf-8")


def test_an_unexpected_failure_of_the_publish_job_is_alerted_and_retried(
    write_config: WriteConfig, telegram: TelegramStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.config import load_config
    from bot.pipeline import open_store
    from bot.service import Service

    class Scheduler:  # records what the service schedules (APScheduler's add_job signature)
        def __init__(self) -> None:
            self.jobs: list[dict[str, object]] = []

        def add_job(self, func: object, trigger: str, **kwargs: object) -> None:
            self.jobs.append({"trigger": trigger, **kwargs})

    config = load_config(str(write_config(
        f"channels:\n  telegram: {{token: '{telegram.token}', chat_id: 1, base_url: '{telegram.url}',"
        " min_interval_seconds: 0}\nalerts: {telegram_chat_id: 999}\n"
    )))  # fmt: skip
    with open_store(config) as store:
        store.table("digests").insert({"week": "2023-W99", "items": []})  # a hand-edited store: no such week
        service = Service(config, store)
        service.scheduler = scheduler = Scheduler()
        service.publish_due()
    [alert] = telegram.messages
    assert alert.startswith("Paper Feed Bot: publish failed: WeekError") and "2023-W99" in alert
    assert [job["id"] for job in scheduler.jobs] == ["retry"]
    assert "publish: done" not in caplog.text and "publish: failed" in caplog.text

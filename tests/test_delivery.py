import html
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.slack import SlackChannel
from bot.channels.telegram import TelegramChannel, visible_length
from bot.config import Config, SlackConfig, TelegramConfig
from bot.delivery import deliver
from bot.digest import Digest, DigestItem
from bot.ledger import PENDING, SENT, Ledger
from bot.render import render
from bot.store import Store
from bot.week import Week
from tests.chat_standins import SlackStandIn, TelegramStandIn, parse_telegram_html, slack_problem

WEEK = Week.parse("2023-W18")


def item(i: int, title: str | None = None, commentary: str | None = None) -> DigestItem:
    return DigestItem(
        key=f"2305.{i:05d}", url=f"https://arxiv.org/abs/2305.{i:05d}", title=title or f"Paper number {i} on things",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"), published="2023-05-02T00:00:00+00:00",
        categories=("cs.LG",), topics=("diffusion",), tags=("ddpm", "text2img"), score=5.0,
        commentary=commentary if commentary is not None else f"We propose method {i}. " + "It is good. " * 20,
        sources=("arXiv",),
    )  # fmt: skip


def digest(n: int) -> Digest:
    return Digest(WEEK, tuple(item(i) for i in range(n)))


def telegram_channel(standin: TelegramStandIn, token: str | None = None) -> TelegramChannel:
    return TelegramChannel(TelegramConfig(token=token or standin.token, chat_id="-100", base_url=standin.url,
                                          min_interval_seconds=0, timeout_seconds=5))  # fmt: skip


def slack_channel(standin: SlackStandIn) -> SlackChannel:
    return SlackChannel(SlackConfig(token=standin.token, channel="C1", base_url=standin.url))


@pytest.mark.parametrize("n", [20, 60])
def test_telegram_delivers_every_item_once_within_4096(telegram: TelegramStandIn, tmp_path: Path, n: int) -> None:
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [telegram_channel(telegram)], digest(n), "ko", Config())
    assert report.ok and report.sent == len(telegram.messages) > 1
    text = "\n".join(telegram.messages)
    assert all(text.count(f"https://arxiv.org/abs/2305.{i:05d}\n") == 1 for i in range(n))
    assert telegram.messages[0].startswith("2023년 5월 1주차\n")
    assert max(len(m.encode("utf-16-le")) // 2 for m in telegram.messages) <= 4096


def test_telegram_messages_go_as_json_with_their_text_intact(telegram: TelegramStandIn, tmp_path: Path) -> None:
    hostile = item(1, title='<b>Fast & *_Small_* "LLMs"</b>\n한국어 제목', commentary="요약 & <i>note</i> 100% +1 ?a=b")
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [telegram_channel(telegram)], Digest(WEEK, (hostile,)), "ko", Config())
    assert report.ok and telegram.encodings == ["json"]
    assert '<b>Fast & *_Small_* "LLMs"</b> 한국어 제목' in telegram.messages[0]
    assert "요약 & <i>note</i> 100% +1 ?a=b" in telegram.messages[0]


def test_telegram_waits_out_429(telegram: TelegramStandIn, tmp_path: Path) -> None:
    telegram.script = [1]
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [telegram_channel(telegram)], digest(3), "ko", Config())
    assert report.ok and len(telegram.messages) == 1


def test_an_oversized_item_is_shortened_not_broken() -> None:
    huge = item(1, title="<b>&" * 10, commentary="😀 x" * 3000)
    [part] = telegram_channel(TelegramStandIn()).parts(Digest(WEEK, (huge,)), "en", Config())
    assert visible_length(part.payload) <= 4096
    assert "<b>&amp;" in parse_telegram_html(part.payload).replace("<b>&", "<b>&amp;")
    parse_telegram_html(part.payload)  # balanced, valid markup


def test_rerun_sends_nothing_and_force_resends(telegram: TelegramStandIn, tmp_path: Path) -> None:
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        deliver(ledger, [telegram_channel(telegram)], digest(3), "ko", Config())
        [again] = deliver(ledger, [telegram_channel(telegram)], digest(3), "ko", Config())
        assert (again.sent, again.skipped) == (0, 1)
        ledger.forget(str(WEEK), "telegram")
        [forced] = deliver(ledger, [telegram_channel(telegram)], digest(3), "ko", Config())
        assert forced.sent == 1
    assert len(telegram.messages) == 2


def test_a_failing_channel_does_not_stop_the_others(
    telegram: TelegramStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        bad, good = deliver(
            ledger, [telegram_channel(telegram, "999:WRONG"), slack_channel(slack)], digest(5), "en", Config()
        )
        assert not bad.ok and "refused" in bad.line()
        assert good.ok and good.sent == 1
        # The next run delivers exactly what is missing.
        fixed, done = deliver(ledger, [telegram_channel(telegram), slack_channel(slack)], digest(5), "en", Config())
        assert fixed.sent == 1 and done.sent == 0
    assert len(telegram.messages) == 1 and len(slack.posts) == 1


@pytest.mark.parametrize("policy", ["resend", "skip"])
def test_pending_part_follows_the_ambiguity_policy(telegram: TelegramStandIn, tmp_path: Path, policy: str) -> None:
    config = Config.model_validate({"delivery": {"on_ambiguous": policy}})
    channel = telegram_channel(telegram)
    [part] = channel.parts(digest(2), "ko", config)
    with Store(tmp_path / "s.json") as store:
        ledger = Ledger(store)
        ledger.record("telegram", str(WEEK), part.id, part.hash, PENDING)  # as a crash mid-send leaves it
        deliver(ledger, [channel], digest(2), "ko", config)
        assert ledger.rows(str(WEEK))[("telegram", "1")]["status"] == SENT
    assert len(telegram.messages) == (1 if policy == "resend" else 0)


@pytest.mark.parametrize("n", [20, 60])
def test_slack_messages_stay_within_block_kit_limits(slack: SlackStandIn, tmp_path: Path, n: int) -> None:
    slack.script = [1]
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [slack_channel(slack)], digest(n), "zh", Config())
    assert report.ok, report.line()
    blocks = [b for post in slack.posts for b in post["blocks"]]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "2023年5月第1周", "emoji": True}}
    assert sum(b["type"] == "section" for b in blocks) == n
    assert all(post["text"] for post in slack.posts)


hostile = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), min_size=1, max_size=200
) | st.sampled_from(["<b>bold</b> & *stars* _under_", "a\nb", "`tick` <script>", "שלום עולם 😀", "&amp; &lt;"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=hostile, commentary=hostile)
def test_hostile_text_renders_safely_on_every_channel(title: str, commentary: str) -> None:
    from bot.channels.email import EmailChannel
    from bot.config import EmailConfig

    entry = item(7, title=title if title.strip() else "x", commentary=commentary)
    flat = " ".join(entry.title.split())  # titles are shown on one line everywhere
    one = Digest(WEEK, (entry,))
    text = render(one, "text", "en", Config())
    assert text.splitlines()[2].startswith(flat)  # the roundup shape holds: link, then "Title (Authors)"
    for part in telegram_channel(TelegramStandIn()).parts(one, "en", Config()):
        visible = parse_telegram_html(part.payload)  # raises on anything Telegram would refuse
        assert flat in visible
    for part in SlackChannel(SlackConfig(webhook_url="http://127.0.0.1:9/x")).parts(one, "en", Config()):
        assert slack_problem(part.payload) is None
        section = part.payload["blocks"][1]["text"]["text"]
        assert "<" not in section.replace(f"<{entry.url}|", "").replace(">*", "")
    email = EmailChannel(EmailConfig(host="h", sender="bot@example.org", recipients=["a@example.org"]))
    [part] = email.parts(one, "en", Config())
    assert html.escape(flat, quote=False) in part.payload["html"].replace("&#34;", '"').replace("&#39;", "'")
    assert flat in part.payload["text"]


def test_slack_webhook_delivery(slack: SlackStandIn, tmp_path: Path) -> None:
    channel = SlackChannel(SlackConfig(webhook_url=f"{slack.url}webhook"))
    slack.script = [1]  # a 429 first
    with Store(tmp_path / "s.json") as store:
        [report] = deliver(Ledger(store), [channel], digest(60), "en", Config())
    assert report.ok and report.sent == len(slack.posts) >= 2
    assert channel.check().startswith("incoming webhook configured")


def test_refused_payloads_are_clear_failures(telegram: TelegramStandIn, slack: SlackStandIn) -> None:
    from bot.channels import Part
    from bot.errors import DeliveryError

    with pytest.raises(DeliveryError, match=r"(?i)can't parse entities"):
        telegram_channel(telegram).send(Part("1", "<b>unbalanced"))
    with pytest.raises(DeliveryError, match=r"(?i)message text is empty"):
        telegram_channel(telegram).send(Part("1", "<b> </b>"))
    too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51}
    with pytest.raises(DeliveryError, match="invalid_blocks"):
        slack_channel(slack).send(Part("1", too_many))
    too_long = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5}
    with pytest.raises(DeliveryError, match="msg_blocks_too_long"):
        slack_channel(slack).send(Part("1", too_long))


invisible = st.sampled_from(["\x1b[2J\x1b[31m", "\x07", "\u202e", "\u2066", "\u200b", "\ufeff", "\x9b", "\u00ad"])
links = st.sampled_from([
    "https://evil.example/p><!channel>|Click here", "javascript:alert(1)", "data:text/html,<b>x</b>",
    "https://ok.example/a b\"c'<d>`e`", "HTTPS://Example.org/x?a=1&b=2", "ftp://files.example/x", "https://",
    "https://arxiv.org/abs/2305.01115",
])  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=hostile, bad=invisible, link=links, arxiv=st.booleans())
def test_links_and_text_are_inert_on_every_channel(title: str, bad: str, link: str, arxiv: bool) -> None:
    from bot.channels.email import EmailChannel
    from bot.config import EmailConfig
    from bot.paper import safe_link

    key = "2305.01115" if arxiv else link
    if not arxiv and safe_link(link) is None:
        with pytest.raises(ValueError, match="no http"):  # a non-arXiv item without an http(s) link never renders
            replace(item(7), key=key, url=link)
        return
    entry = replace(item(7), key=key, url=link, title=f"{bad}{title}{bad}x", commentary=f"{bad}ok{bad}",
                    authors=(f"A{bad}B",))  # fmt: skip
    one = Digest(WEEK, (entry,))
    slack = [
        p.payload for p in SlackChannel(SlackConfig(webhook_url="http://127.0.0.1:9/x")).parts(one, "en", Config())
    ]
    email = EmailChannel(EmailConfig(host="h", sender="bot@example.org", recipients=["a@example.org"]))
    outputs = [render(one, fmt, "en", Config()) for fmt in ("text", "markdown", "json")]
    outputs += [p.payload for p in telegram_channel(TelegramStandIn()).parts(one, "en", Config())]
    outputs += [json.dumps(p, ensure_ascii=False) for p in slack]
    outputs += [p.payload["html"] + p.payload["text"] for p in email.parts(one, "en", Config())]
    for output in outputs:
        assert bad not in output
        assert "javascript:" not in output.lower() and "data:text" not in output.lower()
    for payload in slack:
        section = payload["blocks"][1]["text"]["text"]
        link_part = section.split("|", 1)[0]
        assert link_part.startswith("*<http") and ">" not in link_part and "<!" not in section
    assert entry.url.lower().startswith(("http://", "https://"))


def test_a_ledger_write_that_fails_after_a_send_stops_delivery_and_names_the_part(
    telegram: TelegramStandIn, slack: SlackStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from bot.errors import StoreError

    path = tmp_path / "s.json"
    real_replace = os.replace

    def disk_full_after_the_first_message(a: str, b: str) -> None:
        if telegram.messages and str(b) == str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(a, b)

    with Store(path) as store:
        monkeypatch.setattr(os, "replace", disk_full_after_the_first_message)
        with pytest.raises(
            StoreError, match=r"telegram 2023-W18 part 1 was sent but stays pending .* delivery stopped"
        ):
            deliver(Ledger(store), [telegram_channel(telegram), slack_channel(slack)], digest(30), "en", Config())
        monkeypatch.setattr(os, "replace", real_replace)
    assert len(telegram.messages) == 1 and slack.posts == []  # stopped at once: no other part, no other channel
    with Store(path) as store:
        assert Ledger(store).rows("2023-W18", "telegram")[("telegram", "1")]["status"] == PENDING

"""The optional LLM judge against a loopback OpenAI-compatible stand-in (hand-written papers, canned replies)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.judge import parse_verdicts
from tests.standins import ArxivStandIn, ChatStandIn, Entry, request_id, serve, week_monday

WEEK = "2023-W18"
MONDAY = week_monday(WEEK)
# The rules take SPEC (llm-efficiency) and VIDEO (diffusion); SCHED is over the judge's floor but under the
# threshold; SOCIAL is off every topic.
PAPERS = {
    "SPEC": ("Speculative Decoding for Large Language Models",
             "We propose a draft model for speculative decoding of large language models that speeds up inference 3x."),
    "VIDEO": ("Latent Diffusion Models for Video",
              "We propose a latent diffusion model for video generation; our diffusion model denoises latent frames."),
    "SCHED": ("Sampling Schedules Revisited",
              "We revisit the sampling schedules of a diffusion model and shorten its denoising steps."),
    "SOCIAL": ("Opinion Dynamics in Online Forums", "We model how opinions spread between users of online forums."),
}  # fmt: skip
Writer = Callable[[str], object]


def key_of(name: str) -> str:
    return f"2305.{list(PAPERS).index(name) + 1:05d}"


@pytest.fixture
def week(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = [Entry(key_of(name), title, abstract, MONDAY + timedelta(days=1), authors=["Ada Lovelace"])
                         for name, (title, abstract) in PAPERS.items()]  # fmt: skip


@pytest.fixture
def chat() -> Iterator[ChatStandIn]:
    standin = ChatStandIn()
    with serve(standin.handle) as base:
        standin.url = f"{base}/v1"
        yield standin


def verdicts(accept: set[str]) -> Callable[[str], str]:
    """A model that accepts the named papers, for whatever topic it is asked, and rejects the rest."""

    def answer(prompt: str) -> str:
        ids = re.findall(r"^Paper id: (\S+)$", prompt, re.MULTILINE)
        names = {key_of(name): name for name in PAPERS}
        rows = [{"id": i, "in": names[i] in accept, "reason": f"{names[i]} judged"} for i in ids]
        return json.dumps({"verdicts": rows})

    return answer


def judge_config(chat: ChatStandIn, **extra: object) -> str:
    settings = {"base_url": chat.url, "model": "judge-1", "timeout_seconds": 1, **extra}
    return "selection:\n  judge: " + json.dumps(settings) + "\n"


def digest(*args: str) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--format", "json", *args])
    assert result.exit_code == 0, result.output
    start = result.output.index("{")  # log lines (the judge's summary) come first on the mixed output
    return {str(i["key"]): i for i in json.loads(result.output[start:])["items"]}


def test_the_judge_replaces_the_rules_decision(week: None, chat: ChatStandIn, write_config: Writer) -> None:
    chat.answer = verdicts(accept={"VIDEO", "SCHED"})
    write_config(judge_config(chat))
    items = digest()
    assert set(items) == {key_of("VIDEO"), key_of("SCHED")}  # SPEC rejected; SCHED, under the threshold, accepted
    assert items[key_of("SCHED")]["rank"]["judge"] == "SCHED judged"  # type: ignore[index]
    assert items[key_of("SCHED")]["rank"]["confidence"] == 1.0  # type: ignore[index]
    asked = " ".join(chat.prompts)
    assert key_of("SOCIAL") not in asked  # under the floor: never sent
    assert "Its definition:" in asked and "passing mention" in asked  # the topic's written description


def test_verdicts_are_cached_per_paper_and_description(week: None, chat: ChatStandIn, write_config: Writer) -> None:
    chat.answer = verdicts(accept={"VIDEO"})
    write_config(judge_config(chat))
    digest()
    asked = len(chat.prompts)
    assert asked >= 2
    digest("--refresh")
    assert len(chat.prompts) == asked  # a rerun never asks again


@pytest.mark.parametrize(
    ("reply", "why"),
    [("!500", "failed (HTTPStatusError)"), ("!slow", "failed (TimeoutError)"),
     ("I'm sorry, I can't help with that.", "refused"), ('{"verdicts": [{"id": ', "unparseable"),
     ('{"verdicts": []}', "not answered")],
)  # fmt: skip
def test_every_failure_falls_back_to_the_rules(
    week: None, chat: ChatStandIn, write_config: Writer, reply: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    chat.answer = lambda prompt: reply
    write_config(judge_config(chat))
    items = digest()
    assert set(items) == {key_of("SPEC"), key_of("VIDEO")}  # the rules' own picks
    assert all("judge" not in item["rank"] for item in items.values())  # type: ignore[operator]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("judge:")]
    assert summary and "fell back to the rules" in summary[0] and why in summary[0]
    assert re.search(r"judge: \d+ request\(s\), \d+ token\(s\)", summary[0])


def test_canned_replies_are_keyed_by_the_request(week: None, chat: ChatStandIn, write_config: Writer) -> None:
    # Record the requests once (every one answered "not in"), then replay answers filed under each request's id.
    chat.answer = verdicts(accept=set())
    write_config(judge_config(chat, batch_size=1))
    digest("--dry-run")
    replies = {request_id(p): verdicts(accept={"SPEC", "VIDEO"})(p) for p in chat.prompts}
    replay = ChatStandIn(replies=replies)
    with serve(replay.handle) as base:
        replay.url = f"{base}/v1"
        write_config(judge_config(replay, batch_size=1))
        items = digest("--dry-run")
    assert set(items) == {key_of("SPEC"), key_of("VIDEO")}
    assert len(replay.prompts) == len(chat.prompts)


def test_the_request_cap_holds(week: None, chat: ChatStandIn, write_config: Writer,
                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    chat.answer = verdicts(accept=set())
    write_config(judge_config(chat, batch_size=1, max_requests=1))
    digest("--dry-run")
    assert len(chat.prompts) == 1
    assert any("over the request cap" in r.getMessage() for r in caplog.records)


def test_explain_shows_confidence_and_the_judges_reason(week: None, chat: ChatStandIn, write_config: Writer) -> None:
    chat.answer = verdicts(accept={"VIDEO", "SCHED"})
    write_config(judge_config(chat))
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--explain"])
    assert result.exit_code == 0, result.output
    assert "judge: SCHED judged" in result.output and "confidence=1" in result.output


def test_answers_in_a_code_fence_and_unknown_ids() -> None:
    fenced = '```json\n{"verdicts": [{"id": "a", "in": true, "reason": "ok"}, {"id": "zz", "in": true}]}\n```'
    given, problem = parse_verdicts(fenced, ["a", "b"])
    assert problem == "" and set(given) == {"a"} and given["a"].accept
    assert parse_verdicts({"verdicts": []}, ["a"]) == ({}, "unparseable")

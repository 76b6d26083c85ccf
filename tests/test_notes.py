"""Editor notes, `bot notes`, commentary precedence and the LLM through a loopback OpenAI-compatible server."""

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import NotesError
from bot.notes import parse_notes
from tests.standins import ArxivStandIn, ChatStandIn, Entry, serve, synthetic_week, week_monday

WriteConfig = Callable[..., Path]


def test_keys_stay_text_and_fields_are_validated() -> None:
    notes = parse_notes("2305.02440:\n  commentary: hi\n  tags: [llm]\n2305.10000: {pin: true}\n", "n.yaml")
    assert set(notes.by_key) == {"2305.02440", "2305.10000"}
    assert notes.pinned == ["2305.10000"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2305.02440:\n  comentary: x\n", r"n\.yaml line 1: 2305\.02440: comentary: unknown field"),
        ("2305: {pin: true}\n", r"n\.yaml line 1: '2305' is neither an arXiv id"),
        ("2305.02440:\n  commentary: [unclosed\n", r"n\.yaml line 3: invalid YAML"),
        ("ok: 1\n", r"'ok' is neither"),
        ("https://example.org/x: {commentary: c}\n", r"a non-arXiv item needs a title"),
        ("2305.02440: {pin: maybe}\n", r"pin: Input should be a valid boolean"),
    ],
)
def test_bad_notes_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(NotesError, match=message):
        parse_notes(text, "n.yaml")


def week_entries() -> list[Entry]:
    monday = week_monday("2023-W18")
    return [
        Entry("2305.00001", "Latent Diffusion Models for Video", "We propose a latent diffusion model. It is fast.",
              monday),
        Entry("2305.00002", "4-bit Quantization of LLMs", "We propose post-training quantization for LLMs.", monday),
        Entry("2305.00003", "A Study of Graph Coloring", "We study greedy graph coloring.", monday),
    ]  # fmt: skip


def digest_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--dry-run", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_notes_override_pin_drop_and_add(arxiv_api: ArxivStandIn, write_config: WriteConfig, tmp_path: Path) -> None:
    arxiv_api.entries = week_entries()
    write_config()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "2023-W18.yaml").write_text(
        '2305.00001:\n  commentary: "편집자의 한마디: 빠르다."\n  tags: [video]\n'
        "2305.00002: {drop: true}\n"
        "2305.00003: {pin: true}\n"
        'https://example.org/post:\n  title: A Great Blog Post\n  commentary: "# not a heading"\n',
        encoding="utf-8",
    )
    items = {i["key"]: i for i in digest_json()["items"]}
    assert set(items) == {"2305.00001", "2305.00003", "https://example.org/post"}
    assert items["2305.00001"]["commentary"] == "편집자의 한마디: 빠르다."
    assert items["2305.00001"]["tags"][0] == "video"
    assert items["https://example.org/post"]["commentary"] == "not a heading"
    assert items["https://example.org/post"]["url"] == "https://example.org/post"


def test_bot_notes_writes_a_draft_that_loads_back(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, tmp_path: Path
) -> None:
    arxiv_api.entries = week_entries()
    write_config()
    first = CliRunner().invoke(cli, ["notes", "--week", "2023-W18"])
    assert first.exit_code == 0, first.output
    path = tmp_path / "notes" / "2023-W18.yaml"
    notes = parse_notes(path.read_text(encoding="utf-8"), str(path))
    assert set(notes.by_key) == {"2305.00001", "2305.00002"}
    assert all(n.commentary for n in notes.by_key.values())
    assert "# Latent Diffusion Models for Video\n'2305.00001':\n" in path.read_text(encoding="utf-8")
    again = CliRunner().invoke(cli, ["notes", "--week", "2023-W18"])
    assert again.exit_code == 1 and "already exists" in again.output


# Answers that break the commentary's shape, as models give them; the stand-in's failure modes.
ANSWERS = {
    "list": "- Proposes a sampler.\n- Four steps.",
    "refusal": "I'm sorry, but I can't help with that.",
    "preamble": "Here is the commentary: a sampler that needs four steps.",
    "long": "A sampler. " * 40,
    "empty": "   ",
    "500": "!500",
    "slow": "!slow",
    "malformed": "!malformed",
    "tagged": "A cache for keys.\nTags: #kv_cache #Video #made_up",
    "one tag": "A cache for keys. Tags: #kv_cache",
}


def by_title(behaviour: dict[str, str]) -> Callable[[str], str]:
    """A model that answers by a word of the paper's title in the prompt (title word -> a key of ANSWERS)."""

    def answer(prompt: str) -> str:
        mode = next((m for word, m in behaviour.items() if word in prompt), "ok")
        return ANSWERS.get(mode, "  LLM says: a neat idea.\n")

    return answer


@pytest.fixture
def llm() -> Iterator[ChatStandIn]:
    standin = ChatStandIn(answer=by_title({}))
    with serve(standin.handle) as base:
        standin.url = f"{base}/v1"
        yield standin


def test_llm_commentary_with_fallbacks_and_cache(arxiv_api: ArxivStandIn, write_config: WriteConfig, llm: ChatStandIn,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("LLM_KEY", "sk-secret")
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    llm.answer = by_title({"Vision-Language": "500", "Quantization": "slow", "Linear Attention": "malformed"})
    write_config(
        f"commentary:\n  llm: {{base_url: '{llm.url}', model: m1, api_key: '${{LLM_KEY}}', timeout_seconds: 1}}\n"
    )
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--format", "json"])
    assert result.exit_code == 0, result.output
    items = {i["title"].split(" ")[0]: i["commentary"] for i in json.loads(result.output)["items"]}
    assert items["Efficient"] == "LLM says: a neat idea."  # the diffusion paper: success
    assert not any(c.startswith("LLM") for k, c in items.items() if k != "Efficient")  # 500 / timeout / malformed
    assert all(items.values())  # the extractive fallback
    assert llm.calls[0]["auth"] == "Bearer sk-secret"
    assert "Write it in Korean" in llm.calls[0]["body"]["messages"][-1]["content"]
    calls = len(llm.calls)
    refreshed = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--refresh", "--dry-run", "--format", "json"])
    assert refreshed.exit_code == 0
    assert len(llm.calls) == calls + 3  # the success was cached; the three failures are asked again


@pytest.mark.parametrize(
    ("lang", "subject", "also"),
    [("ko", "논문 다이제스트: 2023년 5월 1주차", "함께 소개된 곳: HF (추천 42개)"),
     ("en", "Paper digest: Week 1 of May 2023 (May 1–7)", "also in: HF (42 upvotes)"),
     ("zh", "论文周报：2023年5月第1周", "另见: HF (42 个赞)")],
)  # fmt: skip
def test_fixed_texts_follow_the_language(lang: str, subject: str, also: str) -> None:
    from bot.digest import Digest
    from bot.render import also_in
    from bot.render import subject as email_subject
    from bot.week import Week
    from tests.test_delivery import item

    entry = replace(item(1), sources=("arXiv", "HF"), upvotes=42)
    digest = Digest(Week.parse("2023-W18"), (entry,))
    assert email_subject(digest, lang) == subject
    assert also_in(entry, lang) == also


def test_llm_answers_that_break_the_shape_fall_back_and_are_counted(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, llm: ChatStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    llm.answer = by_title({"Vision-Language": "list", "Quantization": "refusal", "Linear Attention": "long"})
    write_config(f"commentary:\n  llm: {{base_url: '{llm.url}', model: m1, max_chars: 200}}\n")
    with caplog.at_level(logging.INFO):
        result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    items = {i["title"].split(" ")[0]: i["commentary"] for i in json.loads(result.output)["items"]}
    assert items["Efficient"] == "LLM says: a neat idea."
    assert all(c and not c.startswith(("-", "I'm", "A sampler")) for k, c in items.items() if k != "Efficient")
    [summary] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("LLM commentary:")]
    assert "3 fell back to the extractive commentary" in summary
    assert "a list" in summary and "a refusal" in summary and "over the limit" in summary


@pytest.mark.parametrize(
    ("answer", "problem"),
    [(None, "empty"), ("   ", "empty"), ("1. Does X.\n2. Gets Y.", "a list"), ("Sorry, I cannot.", "a refusal"),
     ("죄송하지만 도와드릴 수 없습니다.", "a refusal"), ("Sure! It does X.", "a preamble"),
     ("Commentary: it does X.", "a preamble"), ("It does **X**.", "markup"), ("X. " * 100, "over the limit")],
)  # fmt: skip
def test_check_answer_names_what_breaks_the_shape(answer: object, problem: str) -> None:
    from bot.llm import check_answer

    assert check_answer(answer, 120) == (None, problem)
    assert check_answer('"A sampler that needs four steps; FID 2.1 on ImageNet."', 120) == (
        "A sampler that needs four steps; FID 2.1 on ImageNet.",
        "",
    )


def test_llm_tags_of_the_vocabulary_replace_the_rule_tags_and_made_up_ones_are_counted(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, llm: ChatStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    llm.answer = by_title({"Vision-Language": "tagged", "Quantization": "one tag"})
    write_config(f"commentary:\n  llm: {{base_url: '{llm.url}', model: m1}}\n")
    with caplog.at_level(logging.INFO):
        result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    items = {i["title"].split(" ")[0]: i for i in json.loads(result.output)["items"]}
    tagged = next(i for i in items.values() if "Vision-Language" in i["title"])
    assert tagged["commentary"] == "A cache for keys."
    assert tagged["tags"] == ["kv_cache", "video"]  # the vocabulary's two; the made-up one dropped
    one = next(i for i in items.values() if "Quantization" in i["title"])
    assert one["commentary"] == "A cache for keys."  # the tags after the last sentence are cut off it ...
    assert len(one["tags"]) >= 2 and one["tags"] != ["kv_cache"]  # ... and one tag is too few: the rules' stay
    prompt = next(c for c in llm.calls if "Vision-Language" in c["body"]["messages"][-1]["content"])
    assert "#kv_cache" in prompt["body"]["messages"][-1]["content"]  # the prompt lists the vocabulary
    [summary] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("LLM commentary:")]
    assert "LLM tags on 1" in summary and "1 unknown tags dropped" in summary


def test_split_tags_reads_the_last_line_only() -> None:
    from bot.llm import split_tags

    vocabulary = ["kv_cache", "video", "lora"]
    assert split_tags("Does X.\nTags: #lora, #video", vocabulary) == ("Does X.", ("lora", "video"), 0)
    assert split_tags("Does X. Tags: lora video nope", vocabulary) == ("Does X.", ("lora", "video"), 1)
    assert split_tags("Tags matter: it does X.", vocabulary) == ("Tags matter: it does X.", (), 0)
    assert split_tags("Does X.", vocabulary) == ("Does X.", (), 0)

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commentary import safe_commentary
from bot.config import Config
from bot.digest import Digest, DigestItem
from bot.paper import Paper, abs_url
from bot.render import render
from bot.week import Week

GOLDEN = Path(__file__).parent / "golden"


def paper(key: str, title: str, authors: list[str], topics: tuple[str, ...], tags: tuple[str, ...]) -> Paper:
    return Paper(key=key, title=title, authors=tuple(authors), abstract="", url=abs_url(key),
                 published=datetime(2023, 5, 2, tzinfo=UTC), categories=("cs.CL",), sources=("arXiv",),
                 topics=topics, tags=tags, score=5.0)  # fmt: skip


def roundup() -> Digest:
    first = paper(
        "2305.01115", "In-Context Learning Unlocked for Diffusion Models",
        ["Zhendong Wang", "Yifan Jiang", "Yadong Lu", "Yelong Shen", "Pengcheng He", "Weizhu Chen",
         "Zhangyang Wang", "Mingyuan Zhou"], ("diffusion",), ("few_shot", "ddpm", "text2img"),
    )  # fmt: skip
    second = paper(
        "2305.02440", "Cheaply Evaluating Inference Efficiency Metrics for Autoregressive Transformer APIs",
        ["Deepak Narayanan", "Keshav Santhanam", "Peter Henderson", "Rishi Bommasani", "Tony Lee", "Percy Liang"],
        ("llm-efficiency",), ("llm", "efficiency"),
    )  # fmt: skip
    notes = {
        "2305.01115": "예시 이미지 쌍과 텍스트로 과제를 보여 주면 새 이미지에 같은 변환을 적용하는 diffusion 모델. "
        "여러 비전 과제를 한 모델이 in-context로 처리합니다.",
        "2305.02440": "API로만 접근 가능한 LLM의 추론 비용을 추정하는 방법. "
        "지연 시간을 프롬프트 인코딩과 토큰 생성으로 나눠 모델링합니다.",
    }
    items = tuple(DigestItem.from_paper(p, notes[p.key]) for p in (first, second))
    return Digest(Week.parse("2023-W18"), items)


def test_plain_text_reproduces_the_roundup_byte_for_byte() -> None:
    assert render(roundup(), "text", "ko", Config()) == (GOLDEN / "roundup-ko.txt").read_text(encoding="utf-8")


def test_other_languages_change_only_the_label() -> None:
    ko = render(roundup(), "text", "ko", Config()).splitlines()
    en = render(roundup(), "text", "en", Config()).splitlines()
    assert en[0] == "Week 1 of May 2023 (May 1–7)"
    assert ko[1:] == en[1:]


def test_author_cap_ends_with_et_al() -> None:
    config = Config.model_validate({"digest": {"max_authors": 2}})
    lines = render(roundup(), "text", "ko", config).splitlines()
    assert lines[2] == "In-Context Learning Unlocked for Diffusion Models (Zhendong Wang, Yifan Jiang et al.)"


def test_json_document() -> None:
    doc = json.loads(render(roundup(), "json", "ko", Config()))
    assert doc["week"] == "2023-W18"
    assert doc["label"] == "2023년 5월 1주차"
    assert doc["language"] == "ko"
    item = doc["items"][0]
    assert set(item) == {"key", "url", "title", "authors", "published", "categories", "topics", "tags",
                         "score", "commentary", "sources", "rank"}  # fmt: skip
    assert item["key"] == "2305.01115"
    assert item["tags"] == ["few_shot", "ddpm", "text2img"]


def test_markdown_escapes_hostile_titles() -> None:
    digest = roundup()
    hostile = replace(digest.items[0], title="*Bold* _it_ [x](y) <b>&")
    md = render(replace(digest, items=(hostile,)), "markdown", "en", Config())
    assert r"**[\*Bold\* \_it\_ \[x\](y) \<b\>&](<https://arxiv.org/abs/2305.01115>)**" in md
    assert "## Diffusion" in md


@pytest.mark.parametrize("bad", ["#hashtag start", "https://spam.example", "line\n# two\n\nthree"])
def test_commentary_lines_never_start_with_http_or_hash(bad: str) -> None:
    for line in safe_commentary(bad).splitlines():
        assert line and not line.startswith(("#", "http"))

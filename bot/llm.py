"""The one client of OpenAI-compatible `/chat/completions` endpoints (commentary and the judge), and the
optional LLM commentary and hashtags, cached in the store.

Commentary results are cached per (paper, model, language, prompt). The answer's last line may give tags
("Tags: #kv_cache #video"): those of the configured vocabulary replace the rule tags when there are two or
more; the others are dropped and counted. Calls run with bounded concurrency; a paper whose
call fails or times out, or whose answer breaks the commentary's shape (empty, a list, a refusal, a preamble,
markup, over the limit), gets no LLM commentary: the caller falls back to the extractive one, and one summary
line counts the fall-backs. The API key is sent as a Bearer token and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from bot.bounded import Body
from bot.classify import MAX_TAGS, MIN_TAGS, normalize_tags
from bot.commentary import safe_line
from bot.config import EndpointConfig, LLMConfig
from bot.paper import Paper
from bot.render import environment
from bot.store import Q, Store

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "zh": "Simplified Chinese"}
SYSTEM = "You are an expert ML researcher writing a concise, accurate weekly paper roundup."


def prompt(paper: Paper, language: str, max_chars: int, vocabulary: list[str]) -> str:
    """The user message for one paper (from templates/llm_prompt.j2)."""
    return environment().get_template("llm_prompt.j2").render(
        language_name=LANGUAGE_NAMES[language], max_chars=max_chars, topics=paper.topics,
        title=paper.title, abstract=paper.abstract, vocabulary=[f"#{tag}" for tag in vocabulary],
    )  # fmt: skip


# A last line "Tags: #a #b", or the same after the commentary's last full stop on its line.
_TAGS_LINE = re.compile(r"(?:\n|(?<=[.!?。])[ \t]+)\s*\**tags?\**\s*[:：]\s*(?P<tags>[^\n]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Commentary:
    """What the LLM wrote for one paper: the commentary, its tags from the vocabulary, and how many it made up."""

    text: str
    tags: tuple[str, ...] = ()
    unknown: int = 0


def split_tags(content: str, vocabulary: list[str]) -> tuple[str, tuple[str, ...], int]:
    """The answer without its last "Tags:" line, the line's tags of the vocabulary, and how many were not."""
    answer = "\n" + content.strip()  # (a line break before a first line of tags too)
    match = _TAGS_LINE.search(answer)
    if match is None:
        return content, (), 0
    named = normalize_tags(re.findall(r"[^\s#,;]+", match["tags"]))
    known = set(vocabulary)
    tags = tuple(tag for tag in named if tag in known)
    return answer[: match.start()].strip(), tags[:MAX_TAGS], len(named) - len(tags)


def cache_key(paper: Paper, config: LLMConfig, language: str, text: str) -> str:
    """The cache identity of one commentary."""
    return hashlib.sha256("\x1f".join([paper.key, config.model, language, text]).encode()).hexdigest()


_LIST_LINE = re.compile(r"^\s*([-*•·]|\d+[.)])\s")
_REFUSAL = re.compile(
    r"^(i'?m sorry|sorry|i (cannot|can'?t|am unable|won'?t)|as an ai|i do not|i don'?t)\b|죄송|抱歉|对不起",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(r"^(sure|certainly|of course|here('s| is| are)|okay|ok)\b", re.IGNORECASE)
_MARKUP = re.compile(r"\*\*|__|`|#|https?://|\[[^\]]*\]\(")


def check_answer(content: Any, max_chars: int) -> tuple[str | None, str]:
    """The model's answer as one plain line, or None and why it breaks the commentary's shape.

    The shape is the extractive commentary's: one or two plain sentences, no preamble, no list, no markup,
    within `max_chars`. An answer that breaks it is not repaired: the paper gets the extractive commentary.
    """
    if not isinstance(content, str) or not content.strip():
        return None, "empty"
    text = content.strip().strip("\"'“”")
    if _REFUSAL.search(text):
        return None, "a refusal"
    if any(_LIST_LINE.match(line) for line in text.splitlines()):
        return None, "a list"
    if _PREAMBLE.match(text) or text.split(":", 1)[0].lower() in ("commentary", "comment", "summary"):
        return None, "a preamble"
    if _MARKUP.search(text):
        return None, "markup"
    line = " ".join(text.split())
    if len(line) > max_chars:
        return None, "over the limit"
    return safe_line(line), ""


@dataclass(frozen=True)
class Answer:
    """A model's answer: its text (whatever JSON the endpoint put there) and the tokens the call used."""

    content: Any
    tokens: int


async def _ask(client: httpx.AsyncClient, config: EndpointConfig, system: str, text: str,
               limit: asyncio.Semaphore) -> Answer:  # fmt: skip
    body = {"model": config.model, "temperature": 0.2,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}]}  # fmt: skip
    # The whole call within `timeout_seconds` (httpx's timeout bounds each read: a server dripping a byte a second
    # would hold the service's job thread), and the answer read raw within `max_bytes` (httpx would unpack a
    # gzip bomb whole).
    async with (
        limit,
        asyncio.timeout(config.timeout_seconds),
        client.stream("POST", "chat/completions", json=body) as response,
    ):
        answer = Body(config.base_url, config.max_bytes, config.timeout_seconds,
                      response.headers.get("content-encoding", ""))  # fmt: skip
        async for chunk in response.aiter_raw():
            answer.add(chunk)
    response.raise_for_status()
    data = json.loads(answer.content())
    usage = data.get("usage") if isinstance(data, dict) else None
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    return Answer(data["choices"][0]["message"]["content"], tokens if isinstance(tokens, int) else 0)


async def _ask_all(config: EndpointConfig, system: str, prompts: dict[str, str]) -> dict[str, Answer | BaseException]:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    limit = asyncio.Semaphore(config.concurrency)
    base = config.base_url.rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=config.timeout_seconds) as client:
        keys = list(prompts)
        asks = (_ask(client, config, system, prompts[k], limit) for k in keys)
        answers = await asyncio.gather(*asks, return_exceptions=True)
    return dict(zip(keys, answers, strict=True))


def complete_all(config: EndpointConfig, system: str, prompts: dict[str, str]) -> dict[str, Answer | BaseException]:
    """Each prompt's answer, or the exception its call raised (timeouts, HTTP errors, malformed bodies)."""
    return asyncio.run(_ask_all(config, system, prompts)) if prompts else {}


def llm_commentary(
    papers: list[Paper], config: LLMConfig, language: str, max_chars: int, store: Store, vocabulary: list[str]
) -> dict[str, Commentary]:
    """Commentary (and tags) by paper key for the papers the LLM answered in shape (cached ones without a call).

    Logs one summary line: how many the LLM wrote, how many fell back to the extractive commentary and why, and
    how many items took the LLM's tags and how many made-up tags were dropped.
    """
    table = store.table("commentary")
    prompts = {p.key: prompt(p, language, max_chars, vocabulary) for p in papers}
    ids = {p.key: cache_key(p, config, language, prompts[p.key]) for p in papers}
    cached = {row["id"]: Commentary(row["text"], tuple(row.get("tags", ()))) for row in table.all()}
    result = {key: cached[ids[key]] for key in prompts if ids[key] in cached}
    missing = {key: text for key, text in prompts.items() if key not in result}
    fresh: dict[str, Commentary] = {}
    fallbacks: dict[str, str] = {}
    for key, answer in complete_all(config, SYSTEM, missing).items():
        if isinstance(answer, BaseException):
            fallbacks[key] = f"failed ({type(answer).__name__})"
            continue
        content, tags, unknown = answer.content, tuple[str, ...](), 0
        if isinstance(content, str):  # (anything else is an answer out of shape: check_answer says which)
            content, tags, unknown = split_tags(content, vocabulary)
        text, problem = check_answer(content, max_chars)
        if text is None:
            fallbacks[key] = problem
            continue
        fresh[key] = Commentary(text, tags if len(tags) >= MIN_TAGS else (), unknown)
    if fresh and not store.read_only:
        with store.batch():
            for key, item in fresh.items():
                row = {"id": ids[key], "key": key, "model": config.model, "text": item.text, "tags": list(item.tags)}
                table.upsert(row, Q.id == ids[key])
    answered = {**result, **fresh}
    reasons = ", ".join(f"{n} {reason}" for reason, n in Counter(fallbacks.values()).most_common())
    summary = (
        f"LLM commentary: {len(answered)} of {len(papers)} papers ({len(result)} cached), "
        f"LLM tags on {sum(bool(c.tags) for c in answered.values())}, "
        f"{sum(c.unknown for c in fresh.values())} unknown tags dropped"
    )
    if fallbacks:
        log.warning("%s; %d fell back to the extractive commentary: %s (%s)", summary, len(fallbacks), reasons,
                    ", ".join(sorted(fallbacks)))  # fmt: skip
    else:
        log.info(summary)
    return answered

"""Optional LLM commentary over an OpenAI-compatible `/chat/completions` endpoint, cached in the store.

Results are cached per (paper, model, language, prompt). Calls run with bounded concurrency; a paper whose
call fails, times out or returns nothing usable gets no LLM commentary (the caller falls back to the
extractive one) and a warning. The API key is sent as a Bearer token and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import httpx

from bot.commentary import safe_line, shorten
from bot.config import LLMConfig
from bot.paper import Paper
from bot.render import environment
from bot.store import Q, Store

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "zh": "Simplified Chinese"}
SYSTEM = "You are an expert ML researcher writing a concise, accurate weekly paper roundup."


def prompt(paper: Paper, language: str, max_chars: int) -> str:
    """The user message for one paper (from templates/llm_prompt.j2)."""
    return environment().get_template("llm_prompt.j2").render(
        language_name=LANGUAGE_NAMES[language], max_chars=max_chars, topics=paper.topics,
        title=paper.title, abstract=paper.abstract,
    )  # fmt: skip


def cache_key(paper: Paper, config: LLMConfig, language: str, text: str) -> str:
    """The cache identity of one commentary."""
    return hashlib.sha256("\x1f".join([paper.key, config.model, language, text]).encode()).hexdigest()


def clean_answer(content: Any, max_chars: int) -> str | None:
    """The model's answer as one safe line within max_chars, or None when it is unusable."""
    if not isinstance(content, str) or not content.strip():
        return None
    return safe_line(shorten(" ".join(content.split()).strip("\"'"), max_chars)) or None


async def _ask(client: httpx.AsyncClient, config: LLMConfig, text: str, limit: asyncio.Semaphore) -> Any:
    body = {"model": config.model, "temperature": 0.2,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]}  # fmt: skip
    async with limit:
        response = await client.post("chat/completions", json=body)
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


async def _ask_all(config: LLMConfig, prompts: dict[str, str]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    limit = asyncio.Semaphore(config.concurrency)
    base = config.base_url.rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=config.timeout_seconds) as client:
        keys = list(prompts)
        answers = await asyncio.gather(*(_ask(client, config, prompts[k], limit) for k in keys), return_exceptions=True)
    return dict(zip(keys, answers, strict=True))


def llm_commentary(
    papers: list[Paper], config: LLMConfig, language: str, max_chars: int, store: Store
) -> dict[str, str]:
    """Commentary by paper key for the papers the LLM answered (cached ones without a call)."""
    table = store.table("commentary")
    prompts = {p.key: prompt(p, language, max_chars) for p in papers}
    ids = {p.key: cache_key(p, config, language, prompts[p.key]) for p in papers}
    cached = {row["id"]: row["text"] for row in table.all()}
    result = {key: cached[ids[key]] for key in prompts if ids[key] in cached}
    missing = {key: text for key, text in prompts.items() if key not in result}
    if not missing:
        return result
    fresh: dict[str, str] = {}
    for key, answer in asyncio.run(_ask_all(config, missing)).items():
        if isinstance(answer, BaseException):
            log.warning("LLM commentary for %s failed (%s); using the extractive one", key, type(answer).__name__)
            continue
        text = clean_answer(answer, max_chars)
        if text is None:
            log.warning("LLM commentary for %s was empty or malformed; using the extractive one", key)
            continue
        fresh[key] = text
    if fresh and not store.read_only:
        with store.batch():
            for key, text in fresh.items():
                table.upsert({"id": ids[key], "key": key, "model": config.model, "text": text}, Q.id == ids[key])
    return {**result, **fresh}

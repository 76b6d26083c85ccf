"""Rendering a Digest: pure functions from a frozen digest to text, through the Jinja2 templates."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.digest import Digest, DigestItem
from bot.paper import arxiv_key, clean_text
from bot.resources import resource_path

if TYPE_CHECKING:
    import jinja2

FORMATS = ("text", "markdown", "json")
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>|~]|^[#+\-]", re.MULTILINE)
_MD_ORDERED_LIST = re.compile(r"^(\d+)\.", re.MULTILINE)


def hashtags(tags: Sequence[str]) -> str:
    """`#a #b` from tag words."""
    return " ".join(f"#{tag}" for tag in tags)


def author_list(authors: Sequence[str], cap: int = 0) -> str:
    """Every author comma-separated, on one line; with a cap, the first `cap` then `et al.`."""
    names = [clean_text(a) for a in authors]
    if cap and len(names) > cap:
        return ", ".join(names[:cap]) + " et al."
    return ", ".join(names)


def markdown_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup (inline marks, and list/heading starts)."""
    return _MD_ORDERED_LIST.sub(r"\1\\.", _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text))


@cache
def environment(autoescape: bool = False) -> jinja2.Environment:
    """The Jinja2 environment over the shipped templates."""
    import jinja2  # here, not at the top: `--format json` and the service's startup do without it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_path("templates")),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(hashtags=hashtags, authors=author_list, md=markdown_escape, also_in=also_in, oneline=clean_text)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def topic_labels(config: Config, language: str) -> dict[str, str]:
    """Each topic's name in a language (its key where it has no label)."""
    return {name: topic.labels.get(language, name) for name, topic in config.topics.items()}  # type: ignore[call-overload]


def by_topic(items: Sequence[DigestItem]) -> dict[str, list[DigestItem]]:
    """Items grouped under their first topic ("" for none), groups in order of first appearance."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(item.topics[0] if item.topics else "", []).append(item)
    return groups


def context(digest: Digest, language: str, config: Config) -> dict[str, Any]:
    """What every template sees: the label, items grouped by topic, and the language's topic names."""
    labels = topic_labels(config, language)
    groups = by_topic(digest.items)
    return {
        "week": str(digest.week),
        "label": digest.week.label(language),
        "language": language,
        "items": digest.items,
        "groups": [(labels.get(topic, topic), items) for topic, items in groups.items()],
        "max_authors": config.digest.max_authors,
    }


def to_json(digest: Digest, language: str) -> str:
    """The `--format json` document (one object; items in digest order)."""
    items = []
    for item in digest.items:
        data = item.to_dict()
        data.pop("upvotes")
        items.append(data)
    document = {"week": str(digest.week), "label": digest.week.label(language), "language": language}
    return json.dumps({**document, "items": items}, ensure_ascii=False, indent=2) + "\n"


# Every fixed text a channel shows, per language (the week labels live in week.py).
TEXTS = {
    "ko": {"subject": "논문 다이제스트: {label}", "also_in": "함께 소개된 곳", "upvotes": "추천 {n}개"},
    "en": {"subject": "Paper digest: {label}", "also_in": "also in", "upvotes": "{n} upvotes"},
    "zh": {"subject": "论文周报：{label}", "also_in": "另见", "upvotes": "{n} 个赞"},
}


def subject(digest: Digest, language: str) -> str:
    """The email subject: the week label in the digest's language."""
    return TEXTS[language]["subject"].format(label=digest.week.label(language))


def also_in(item: DigestItem, language: str) -> str:
    """`also in: HF daily papers (42 upvotes)` for an item curated feeds mentioned, else empty."""
    curated = [s for s in item.sources if s not in ("arXiv", "editor")]
    if not curated:
        return ""
    votes = f" ({TEXTS[language]['upvotes'].format(n=item.upvotes)})" if item.upvotes else ""
    return f"{TEXTS[language]['also_in']}: {', '.join(curated)}{votes}"


def _draft_note(item: DigestItem) -> dict[str, str]:
    # A link (not an arXiv id) is an item only its notes entry can bring back: it needs its title there.
    return (
        {"commentary": item.commentary}
        if arxiv_key(item.key) == item.key
        else {"title": item.title, "commentary": item.commentary}
    )


def render_notes(digest: Digest, language: str) -> str:
    """A draft editor-notes file for a digest: each entry written by the YAML emitter (a title or link holding a
    line separator cannot start a live entry), each title a comment on one line."""
    import yaml

    entries = [
        {
            "title": clean_text(item.title),  # (clean_text folds U+2028, U+0085 and every other line break)
            "yaml": yaml.safe_dump(
                {item.key: _draft_note(item)}, allow_unicode=True, width=10_000, sort_keys=False
            ).rstrip("\n"),
            "tags": ", ".join(clean_text(tag) for tag in item.tags),
        }
        for item in digest.items
    ]
    return (
        environment()
        .get_template("notes.yaml.j2")
        .render(week=str(digest.week), label=digest.week.label(language), entries=entries)
    )


def render(digest: Digest, fmt: str, language: str, config: Config) -> str:
    """The digest as `text` (the roundup shape), `markdown` or `json`."""
    if fmt == "json":
        return to_json(digest, language)
    template = {"text": "digest.txt.j2", "markdown": "digest.md.j2"}[fmt]
    return environment().get_template(template).render(context(digest, language, config))

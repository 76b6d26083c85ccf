"""Editor notes: `digest.notes_dir/<YYYY-Www>.yaml`, keyed by paper key, overriding what the bot chose.

2305.02440:                  # keys are read as text: 2305.02440 stays "2305.02440", not 2305.0244
  commentary: "..."          # replaces the commentary
  tags: [llm, efficiency]    # added to the paper's hashtags (first)
2305.03053: {pin: true}      # include even if not selected
2305.01234: {drop: true}     # leave out
https://example.org/post:    # a non-arXiv item the editor adds
  title: "..."
  commentary: "..."
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.config import MAX_DEPTH, MAX_NODES
from bot.errors import NotesError
from bot.paper import arxiv_key
from bot.week import Week


class Note(BaseModel):
    """One paper's note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commentary: str | None = None
    tags: list[str] = []
    pin: bool = False
    drop: bool = False
    title: str | None = None
    authors: list[str] = []


@dataclass(frozen=True)
class Notes:
    """A week's notes by paper key."""

    by_key: dict[str, Note]

    def get(self, key: str) -> Note | None:
        """The note for a paper, if any."""
        return self.by_key.get(key)

    @property
    def dropped(self) -> set[str]:
        """Keys the editor left out."""
        return {k for k, n in self.by_key.items() if n.drop}

    @property
    def pinned(self) -> list[str]:
        """Keys the editor included (and added items), in file order."""
        return [k for k, n in self.by_key.items() if (n.pin or n.title) and not n.drop]


class _TextKeyLoader(yaml.SafeLoader):
    """Reads mapping keys as the text the editor wrote (2305.02440 is not a number here)."""


def _mapping_with_text_keys(loader: _TextKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else loader.construct_object(key_node)
        result[(key, key_node.start_mark.line + 1)] = loader.construct_object(value_node, deep=True)
    return result


_TextKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_text_keys)


def notes_path(notes_dir: str, week: Week) -> Path:
    """Where a week's notes live."""
    return Path(notes_dir) / f"{week}.yaml"


def _plain(value: Any, source: str, seen: list[int], depth: int = 0) -> Any:
    """Nested mappings back to plain keys (the loader pairs every key with its line); a tree that aliases make
    too large or too deep ("billion laughs") is a NotesError, with the config's limits, not minutes of work."""
    seen[0] += 1
    if seen[0] > MAX_NODES or depth > MAX_DEPTH:
        raise NotesError(f"{source}: the notes nest too deep or expand too far (YAML aliases?)")
    if isinstance(value, dict):
        return {k[0] if isinstance(k, tuple) else k: _plain(v, source, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, source, seen, depth + 1) for v in value]
    return value


def parse_notes(text: str, source: str) -> Notes:
    """Validate a notes file's text; errors name the file and the line."""
    try:
        raw = yaml.load(text, Loader=_TextKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise NotesError(f"{source}{where}: invalid YAML: {getattr(error, 'problem', error)}") from None
    if raw is None:
        return Notes({})
    if not isinstance(raw, dict):
        raise NotesError(f"{source}: expected a mapping of paper keys to notes")
    notes = {}
    seen = [0]  # nodes walked, over the whole file
    for (key, line), value in raw.items():
        key = str(key).strip()
        if not (arxiv_key(key) == key or key.startswith(("http://", "https://"))):
            raise NotesError(f"{source} line {line}: {key!r} is neither an arXiv id (2305.01115) nor a link")
        try:
            note = Note.model_validate(_plain(value, source, seen) if value is not None else {})
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(note)"
            problem = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise NotesError(f"{source} line {line}: {key}: {field}: {problem}") from None
        if not arxiv_key(key) and not note.title and not note.drop:
            raise NotesError(f"{source} line {line}: {key}: a non-arXiv item needs a title")
        notes[key] = note
    return Notes(notes)


def load_notes(notes_dir: str, week: Week) -> Notes:
    """The week's notes, or none when the file does not exist."""
    path = notes_path(notes_dir, week)
    if not path.is_file():
        return Notes({})
    return parse_notes(path.read_text(encoding="utf-8"), str(path))

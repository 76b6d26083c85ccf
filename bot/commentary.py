"""Commentary: one or two sentences from the abstract that carry the contribution or the result.

Deterministic and offline. Background sentences lose, cue phrases ("we propose", "outperforms"), numbers and
words shared with the title win. LaTeX and URLs are cleaned, and no line may start with `http` or `#`
(it would break the roundup's shape).
"""

from __future__ import annotations

import math
import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX_WRAPPED = re.compile(r"\\(?:textbf|textit|emph|text|mathrm|mathbf|texttt|underline)\{([^{}]*)\}")
_LATEX_SYMBOLS = {r"\sim": "~", r"\times": "×", r"\approx": "≈", r"\%": "%", r"\le": "≤", r"\ge": "≥"}
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_CONTRIBUTION = re.compile(
    r"\b(we (propose|introduce|present|develop|design|show|find|demonstrate|achieve|release|reveal)|"
    r"this (paper|work) (proposes|introduces|presents|shows)|our (method|approach|model|framework)|"
    r"(is|are) proposed)\b",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"\b(outperform\w*|surpass\w*|improv\w*|reduc\w*|speed-?ups?|faster|fewer|state-of-the-art|sota|"
    r"achiev\w*|\d+(\.\d+)?\s?(%|x|×)|times)\b",
    re.IGNORECASE,
)
_BACKGROUND = re.compile(
    r"^(recent(ly)?|in recent years|however|despite|although|while|existing|current|traditional|"
    r"[\w\- ]{0,40} (have|has) (shown|become|achieved|demonstrated|emerged|gained))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")


def clean_latex(text: str) -> str:
    """Plain text from abstract LaTeX: `$...$`, `\\textbf{}`, escaped percent signs and the like."""
    text = _URL.sub("", text)
    for _ in range(3):  # nested \textbf{\emph{...}}
        text = _LATEX_WRAPPED.sub(r"\1", text)
    for command, symbol in _LATEX_SYMBOLS.items():
        text = text.replace(command, symbol)
    text = _LATEX_COMMAND.sub("", text).replace("$", "")
    text = re.sub(r"[{}]", "", text)
    return " ".join(text.split())


def safe_line(text: str) -> str:
    """One line of commentary: whitespace folded, never starting with `http` or `#`."""
    line = " ".join(text.split()).lstrip("#").lstrip()
    return f"→ {line}" if line.lower().startswith("http") else line


def safe_commentary(text: str) -> str:
    """Commentary that may span lines, each made safe; blank lines dropped."""
    return "\n".join(filter(None, (safe_line(line) for line in text.splitlines())))


def _score(sentence: str, position: int, title_words: set[str]) -> float:
    words = set(_WORD.findall(sentence.lower()))
    score = 3.0 * bool(_CONTRIBUTION.search(sentence)) + 1.5 * min(len(_RESULT.findall(sentence)), 2)
    score += 0.5 * math.sqrt(len(words & title_words))
    score -= 3.0 * bool(_BACKGROUND.search(sentence)) + 1.0 * (position == 0)
    return score - 2.0 * (len(sentence) < 40)


def shorten(text: str, max_chars: int) -> str:
    """Cut to at most max_chars at a sentence, else a word boundary (with an ellipsis)."""
    if len(text) <= max_chars:
        return text
    if max_chars < 2:
        return ""
    cut = text[: max_chars - 1]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence_end >= max_chars // 2:
        return cut[: sentence_end + 1]
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + "…"


def extractive(title: str, abstract: str, max_chars: int) -> str:
    """The abstract's one or two most informative sentences, within max_chars; never just the title."""
    sentences = [s for s in _SENTENCE_END.split(clean_latex(abstract)) if s.strip()]
    title_words = set(_WORD.findall(title.lower())) - {
        "a",
        "an",
        "the",
        "of",
        "for",
        "and",
        "with",
        "in",
        "on",
    }
    candidates = [s for s in sentences if s.strip().rstrip(".").lower() != title.strip().lower()]
    if not candidates:
        return ""
    ranked = sorted(range(len(candidates)), key=lambda i: -_score(candidates[i], i, title_words))
    chosen = [ranked[0]]
    if len(ranked) > 1 and len(candidates[ranked[0]]) + len(candidates[ranked[1]]) + 1 <= max_chars:
        chosen.append(ranked[1])
    return safe_line(shorten(" ".join(candidates[i] for i in sorted(chosen)), max_chars))

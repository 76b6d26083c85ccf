"""Commentary: one or two whole sentences of the abstract that say what the paper does and what it found.

Deterministic and offline. The sentence that names the paper's contribution (its method or system by name,
when it has one) comes first, then the headline result with its number; background and motivation lose, and
the opener speaks of the paper ("we", "our", "the proposed", its name) when such a sentence fits. A
contribution longer than the limit ends at its main clause ("We propose X, a framework that ... .") rather
than losing to background.
Each sentence must read on its own: a leading connective or purpose clause ("Specifically, ...", "To overcome
these drawbacks, ...") is removed, a sentence pointing back at one the reader never saw ("These models ...",
"It ...") is not used unless it follows its antecedent, and a removed link or formula takes its clause with it.
Sentences are chosen to fit `max_chars`; only a single sentence longer than that is cut (with "…"), as is the
contribution when nothing but background would fit. No line
starts with `http` or `#` (it would break the roundup's shape).
"""

from __future__ import annotations

import math
import re

from bot.paper import clean_text

_URL = r"(?:https?://|www\.)\S*[^\s.,;:)\]]"  # a link, without the punctuation after it
# "with code publicly available at <url>", "Our code and models are released at <url>.": the clause goes whole
_LINK_CLAUSE = (
    r"(?:(?:and|with|while)\s+)?(?:(?:the|our|all|its|their)\s+)?"
    r"(?:(?:source\s+)?code|data(?:sets?)?|models?|weights|checkpoints?|demos?|project\s+page|implementation|"
    r"resources|benchmarks?|materials?)[^.;()]{0,80}?(?:available|released|found|accessible|hosted|open-?sourced?)"
    rf"\s*(?:at|on|from|via|in|here)?\s*:?\s*\(?{_URL}\)?"
)
_LINK_CLAUSES = [
    re.compile(rf",\s*{_LINK_CLAUSE}\s*,", re.IGNORECASE),  # a clause in commas: ", with code at <url>,"
    re.compile(rf"[,;]?\s*\(?{_LINK_CLAUSE}", re.IGNORECASE),  # at the end of a sentence, or a sentence alone
    # "X is implemented in PyTorch, and released at <url>": the clause about the link, without its subject
    re.compile(
        rf",?\s*(?:and\s+)?(?:(?:is|are)\s+)?(?:\w+ly\s+)?(?:available|released|hosted|open-?sourced?)\s*"
        rf"(?:at|on|from|via|in|here)?\s*:?\s*\(?{_URL}\)?",
        re.IGNORECASE,
    ),
    re.compile(rf"\s*\b(?:at|from|via|see|on)?\s*:?\s*\(?{_URL}\)?", re.IGNORECASE),  # any other link, and its "at"
]
_HAS_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
# No link clause holds a full stop followed by a space, so each stretch between two can be cleaned alone, and
# only those with a link need to be: the clauses above try every position (1.3 ms on a whole abstract).
_FULL_STOP_GAP = re.compile(r"(?<=\.)(?=\s)")
_LATEX_LINK = re.compile(r"\\(?:url|href)\{([^{}]*)\}(?:\{[^{}]*\})?")  # the link, to go with its clause
_LATEX_TIE = re.compile(r"(?<=[A-Za-z.,)])~(?=[A-Za-z(\\])")  # "at~\\url{...}", "Reasoning~(IRR)": a space
_LATEX_REFERENCE = re.compile(r"\\(?:cite[pt]?|ref|eqref|label|url|footnote)\{[^{}]*\}")
_LATEX_WRAPPED = re.compile(r"\\(?:textbf|textit|emph|text|mathrm|mathbf|texttt|underline)\{([^{}]*)\}")
_LATEX_SYMBOLS = {r"\sim": "~", r"\times": "×", r"\approx": "≈", r"\%": "%", r"\leq": "≤", r"\geq": "≥",
                  r"\le": "≤", r"\ge": "≥", r"\log": " log ", r"\sqrt": "√", "``": "“", "''": "”",
                  r"\{": "", r"\}": "", r"\&": "&", r"\_": "_"}  # fmt: skip
# A symbol command ends where its letters do: `\le` is not the start of `\left`.
_LATEX_SYMBOL = re.compile("|".join(re.escape(c) + ("(?![A-Za-z])" if c[-1].isalpha() else "") for c in _LATEX_SYMBOLS))
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?")
# A macro authors define for their method's name ("we present \\modelname, which ..."): arXiv keeps it bare.
_NAME_MACRO = re.compile(r"\\[A-Za-z]*(?:name|method|model|ours|sys)[A-Za-z]*\b(?:\{\})?(?!\{)")
# A sentence ends at . ! or ? (a closing quote or bracket stays with it) before a capital, a digit or a name
# that starts in lower case ("i-Code", "mT5"), but not after an abbreviation ("Tran et al. 2021").
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])(?<!\bal\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\bcf\.)(?<!\bFig\.)(?<!\bEq\.)(?<!\bSec\.)"
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bNo\.)"  # "Dr. DocBench" is one name
    r"|(?<=[.!?][\"'’”)]))\s+(?=[A-Z0-9\"'(“`]|[a-z]{1,3}-?[A-Z0-9])"  # "... data. i-Code V2 is ...", "mT5"
)
_WHOLE = re.compile(r"[.!?][\"'’”)\]]*$")
CONTRIBUTION = re.compile(  # a sentence stating what the paper itself does
    r"\b(we (propose|introduce|present|develop|design|build|release|construct|create|devise|formulate)|"
    r"this (paper|work|study|article) (proposes|introduces|presents|develops|describes)|"
    r"(is|are) (proposed|introduced|presented))\b",
    re.IGNORECASE,
)
# What other methods cannot do: the gap a paper fills, not what it does ("X ... but are unable to ...").
_LIMITATION = re.compile(
    r"\b(but|yet) (are|is|remain|remains|still|often|usually) (unable|limited|inefficient|costly)|"
    r"\b(suffers?|suffering) from\b|\b(fail|fails|struggle|struggles) to\b|\bhardly\b|"
    r"\b(prior|previous|existing|conventional|current) (works?|methods?|approaches?|techniques?)\b|"
    r"\b(have|has) been (proposed|introduced|developed|studied|explored)\b",  # others' work, not this paper's
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(
    r"\b(we|our|this (paper|work|study|article|report|note|survey|tutorial|thesis)|the proposed)\b", re.IGNORECASE
)
_FINDING = re.compile(r"\b(we (show|find|demonstrate|observe|reveal|prove)|our (results|experiments))\b", re.IGNORECASE)
_RESULT = re.compile(
    r"\b(outperform\w*|surpass\w*|improv\w*|reduc\w*|speed-?ups?|faster|fewer|state-of-the-art|sota|"
    r"achiev\w*|\d+(\.\d+)?\s?(%|x|×)|times)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(\.\d+)?\s?(%|x|×|times|points?|pp)|\d+(\.\d+)?-fold", re.IGNORECASE)
_BACKGROUND = re.compile(
    r"^(recent(ly)?|in recent years|however|despite|although|while|existing|current|traditional|"
    r"[\w\- ]{0,40} (have|has) (shown|become|achieved|demonstrated|emerged|gained|attracted|been))\b",
    re.IGNORECASE,
)
# A leading clause that only links to what came before: dropped, the rest of the sentence kept.
_LINK_WORDS = (
    r"specifically|hence|thus|therefore|moreover|furthermore|additionally|in addition|besides|"
    r"consequently|as a result|finally|first(?:ly)?|second(?:ly)?|third(?:ly)?|lastly|then|meanwhile|in particular|"
    r"accordingly|subsequently|instead|yet|still|further|in turn|otherwise|as such|in response|by doing so|next|"
    r"in fact|indeed|overall|in summary|in short|in conclusion|to summari[sz]e|to sum up|taken together|"
    r"in doing so|in this way|to do so|to this end|to that end|for this purpose|with this in mind|here|concretely|"
    r"empirically|experimentally|theoretically|in practice|on the (?:practical|theoretical|empirical) side|"
    # an aside on how the authors felt about it: the finding reads the same without it
    r"surprisingly|interestingly|frustratingly|remarkably|notably|importantly|crucially|unfortunately"
)
_PHRASE = r"(?:[^,()]|\([^()]*\))"  # a character of a clause, or a bracket whole: "(LeCun, 2022)"
_LEAD_CLAUSE = re.compile(
    rf"^(?:(?:{_LINK_WORDS})|"
    rf"(?:in light of|given|building on|based on) (?:this|these|that|those|such){_PHRASE}{{0,60}}|"
    # "Inspired by X (LeCun, 2022), in particular Y, we ...": a bracket's comma and an apposition stay in it
    rf"(?:(?:motivated|inspired|driven|guided) by|(?:taking|drawing) inspiration from) {_PHRASE}{{1,140}}"
    rf"(?:,{_PHRASE}{{1,100}}(?=,\s+we\b))?|"
    rf"instead of {_PHRASE}{{1,100}}|in addition to {_PHRASE}{{1,100}}|"
    # a purpose clause before the main one: "To overcome these drawbacks, we propose ...", also with an
    # apposition ("To get the best of both worlds, X and Y, we propose ...")
    r"to [a-z]+[^,]{0,100}(?:,(?![^,]*\bwe\b)[^,]{1,60}(?=,\s+we\b))?"
    r"(?=,\s+(?:[^,]{0,30}\s)?(?:we|our|this|the|it|a|an|they)\b)),\s+|"
    # the same words without a comma, right before "we": "Then we propose ...", "Here we show ..."
    r"^(?:here|then|thus|hence|therefore|finally|next|lastly|accordingly|consequently|subsequently|"
    r"additionally|moreover|furthermore|further|first(?:ly)?|second(?:ly)?)\s+(?=we\b|in this (?:paper|work|study)\b)",
    re.IGNORECASE,
)
# What stand_alone could not strip still links to an unseen sentence: "To address this, recent work ...".
_LINKED = re.compile(rf"^(?:(?:{_LINK_WORDS}),|to [a-z]+\b[^.]*?,\s)", re.IGNORECASE)
# A sentence that points back at one the reader has not seen ("These models ...", "It ...").
_POINTER = re.compile(
    r"^(this|these|those|it|its|they|their|them|such|both|here|the former|the latter|the above|"
    r"the aforementioned)\b(?! (paper|work|study|article|report|note|survey|thesis)\b)",
    re.IGNORECASE,
)
# Inside a sentence: "generated from these representations" needs the sentence that named them.
# "such polytopes" too (not "such as", "such ... that").
_BACK_REFERENCE = re.compile(
    r"\b(these|those|the aforementioned|the above|such\b(?![^.,;:]*?\b(?:as|that)\b))\b", re.IGNORECASE
)
# "this gap", "such a trade-off", "these limitations": a problem the sentence before stated, unseen by a reader.
_REFERRED = (
    r"(?:approach|issue|gap|trade-?off|limitation|challenge|problem|question|bottleneck|drawback|"
    r"shortcoming|difficulty|obstacle|concern|need|dilemma|deficiency|weakness|phenomenon|barrier|assumption|"
    r"notion|premise|paradigm|hypothes[ie])e?s?"
)
DANGLING = re.compile(rf"\b(?:this|these|such(?: an?)?|those|that)\s+(?:[\w-]+\s+)?{_REFERRED}\b", re.IGNORECASE)
# The clause that leans on it goes, when the rest stands alone: "..., which addresses this issue",
# "We propose X to address this gap." → "We propose X."
_DANGLING_CLAUSE = re.compile(
    rf",?\s+(?:(?:in order )?to|which|that|thereby|thus)\s+(?:\w+ly\s+)?(?:address|tackle|solve|overcome|bridge|close|"
    rf"fill|mitigate|alleviate|resolve|handle|remedy|circumvent|avoid|optimi[sz]e|balance|navigate|break)(?:e?s|ing)?"
    rf"\s+(?:this|these|such(?: an?)?|those|that)\s+(?:[\w-]+\s+)?{_REFERRED}\b"
    rf"(?:\s+in this (?:paper|work|study))?(?=\s*[.;!?]?$)",
    re.IGNORECASE,
)
# "We address these challenges by introducing X" → "We introduce X"; "We propose closing this gap with X" →
# "We propose X": the problem goes, the contribution stays.
_SOLVING_BY = re.compile(
    rf"\b(we|(?:this|our) (?:paper|work|study|article))\s+(?:\w+ly\s+)?(?:(?:aims?|seeks?|tries|try|attempts?) to\s+)?"
    rf"(?:\w+ly\s+)?(?:address|tackle|fill|bridge|close|overcome|solve|mitigate|resolve|handle|study|investigate|"
    rf"consider|explore)(?:e?d|e?s|ies)?\s+(?:this|these|such(?: an?)?|those|that)\s+(?:[\w-]+\s+)?{_REFERRED}"
    rf"\s+(?:(?:by|through|via)\s+(?:the use of\s+|([a-z]+ing)\b)|(with)\s+)",
    re.IGNORECASE,
)
_SOLVING_WITH = re.compile(
    rf"\b(?:closing|bridging|filling|addressing|tackling|overcoming|solving)\s+(?:this|these|such(?: an?)?|those)"
    rf"\s+(?:[\w-]+\s+)?{_REFERRED}\s+(?:with|via|through|using|by)\s+",
    re.IGNORECASE,
)
# The gerunds a contribution is made with, and their plain form.
_GERUNDS = {
    g: g[:-3] + e
    for e, words in (
        (
            "e",
            "introducing proposing providing leveraging examining using combining incorporating creating "
            "formulating analyzing analysing decomposing releasing curating making replacing reducing "
            "enabling exploring unifying scaling compressing distilling synthesizing generating",
        ),
        (
            "",
            "presenting developing designing building exploiting adopting training learning constructing "
            "employing collecting adding keeping allowing extending augmenting conducting",
        ),
    )
    for g in words.split()
} | {"studying": "study", "applying": "apply", "modifying": "modify"}
# "We also propose ..." needs the contribution before it: "also" goes ("We propose ..."). And "We build upon this
# approach and develop X" leans on an approach only the sentence before named: "We develop X".
_ALSO = re.compile(r"^((?:we|it|the authors|this paper|this work|our \w+)\s+(?:\w+\s+)?)also\s+", re.IGNORECASE)
# "Yet ...", "Nevertheless, ...", "In contrast, ...": the other half of a contrast the reader never saw.
_CONTRAST = re.compile(r"^(?:yet|however|nevertheless|nonetheless|in contrast|on the other hand|but|still)\b",
                       re.IGNORECASE)  # fmt: skip
_BUILDING_ON = re.compile(
    r"\b(we)\s+(?:(?:build|built|extend|follow)\s+(?:up)?(?:on\s+)?(?:this|these|such|that|those)\s+[\w-]+|"
    # "We lift this long-standing limitation and provide X" → "We provide X"
    rf"(?:\w+ly\s+)?(?:lift|remove|relax|revisit|identify|study|investigate|address|tackle|observe|overcome|"
    rf"recogni[sz]e|acknowledge|analy[sz]e)\s+(?:this|these|such(?: an?)?|those|that)\s+(?:[\w-]+\s+)?{_REFERRED})"
    r"\s+and\s+(?:then\s+)?",
    re.IGNORECASE,
)
# "The primary contribution of this paper is to ...: we propose X" → "We propose X"
_COLON_WE = re.compile(
    r"^(?!we\b).{10,}?:\s+(?=we (?:propose|introduce|present|develop|design|build|show|find|demonstrate)\b)",
    re.IGNORECASE,
)
# Where a long sentence may end early and still say its main clause: before a list or an explanation after a
# colon, a semicolon or a dash, or before a trailing clause that only adds a consequence ("..., thereby ...").
_CLAUSE_BREAK = re.compile(
    r"\s*(?::|;|\s--?\s|\s—\s)\s|,\s+(?=(?:thereby|thus|which|where|while|whereas|so that|such that|producing|"
    r"yielding|enabling|allowing|achieving|resulting|leading|making|providing|revealing|including|"
    r"demonstrating|showing|highlighting|offering|outperforming|surpassing|reducing|improving|ranging|spanning|"
    r"using|based|wherein|to\s+(?:\w+ly\s+)?[a-z]+)\b)"
)
# "(i) ...", "2) ...": an item of a list the reader has not seen from its start.
_LIST_ITEM = re.compile(r"(?:^|[\s:;,])\(?(?:[ivx]{1,4}|\d|[a-e])\)\s")
_OPEN_END = re.compile(r"\b(that|as|the|an?|of|to|by|with|for|and|or|in|on|from|namely|follows?|is|are|which|"
                       r"comprising|consisting|including|containing|called|named|dubbed|such|like|into|than)$",
                       re.IGNORECASE)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
_AVAILABILITY = re.compile(
    r"\b(?:code|data(?:sets?)?|models?|weights|checkpoints?|implementation|toolkit)s?\b[^.]{0,60}"
    r"\b(?:is|are|will be)\s+(?:\w+ly\s+)?(?:available|released|open-?sourced)\b",
    re.IGNORECASE,
)
MAX_ABSTRACT = 5_000
OWN_OPENER = 1.5  # what speaking of the paper is worth to an opener (a numbered result is worth 1-3)
_STOP = {"a", "an", "the", "of", "for", "and", "with", "in", "on", "to", "via", "by", "from", "is", "are", "we"}


def clean_latex(text: str) -> str:
    """Plain text from abstract LaTeX and links: `$...$`, `\\textbf{}`, `\\%`; a link goes with its clause."""
    text = _LATEX_LINK.sub(r" \1", _LATEX_TIE.sub(" ", text))
    text = "".join(map(_without_links, _FULL_STOP_GAP.split(text)))
    text = _LATEX_REFERENCE.sub("", text)
    for _ in range(3):  # nested \textbf{\emph{...}}
        text = _LATEX_WRAPPED.sub(r"\1", text)
    text = _LATEX_SYMBOL.sub(lambda m: _LATEX_SYMBOLS[m.group(0)], text)
    text = _LATEX_COMMAND.sub("", text).replace("$", "")
    text = re.sub(r"[{}]", "", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)  # brackets a removed link or formula left empty
    text = re.sub(r"\s+([.,;:!?)\]])|([(\[])\s+", r"\1\2", " ".join(text.split()))
    text = re.sub(r"[,;:]+(?=[.!?])|(?<=[.!?])[,;:]+", "", text)
    text = re.sub(r"(?<=[a-z]),(?=[a-z]{3})", ", ", text)  # "models,addressing": a space lost in the source
    text = re.sub(r"(?<=[a-z]{2})\.(?=[A-Z][a-z])", ". ", text)  # "operation.While": the same after a full stop
    text = re.sub(r"“([^”\"]{1,80})\"|\"([^“\"]{1,80})”", r"“\1\2”", text)  # “Introspective Tips": one pair
    return re.sub(r"(?<=[^.][.!?]) ?\.(?!\.)", "", text)  # a sentence removed whole leaves its full stop


def _without_links(text: str) -> str:
    """Text without its links and the clauses that announce them."""
    if _HAS_URL.search(text):
        for clause in _LINK_CLAUSES:
            text = clause.sub(lambda m: " " if m.group(0).endswith(",") else "", text)
    return text


def safe_line(text: str) -> str:
    """One line of commentary (a model's, an editor's): `clean_text`, never starting with `http` or `#`."""
    line = clean_text(text).lstrip("#").lstrip()
    return f"→ {line}" if line.lower().startswith("http") else line


def safe_commentary(text: str) -> str:
    """Commentary that may span lines, each made safe; blank lines dropped."""
    return "\n".join(filter(None, (safe_line(line) for line in text.splitlines())))


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


def main_clause(sentence: str, max_chars: int) -> str:
    """A contribution longer than max_chars ended at its last clause break that fits ("We propose X, a framework
    that ...: (i) ..., (ii) ..." → "We propose X, a framework that ..."); else unchanged."""
    if len(sentence) <= max_chars or not CONTRIBUTION.search(sentence[:max_chars]):
        return sentence  # only the contribution is worth shortening: a result cut early may say the opposite
    for match in reversed(list(_CLAUSE_BREAK.finditer(sentence, 0, max_chars))):
        head = sentence[: match.start()].rstrip(" ,")
        if len(head.split()) >= 6 and _is_whole_clause(head) and CONTRIBUTION.search(head):
            return head + "."
    return sentence


def stand_alone(sentence: str) -> str:
    """The sentence without a leading connective or purpose clause (capitalised again) and without a closing
    clause that leans on a problem only the sentence before named ("..., to address this issue.")."""
    sentence = _without_dangling_clause(sentence)
    stripped = sentence
    for _ in range(3):  # "Thus, taking inspiration from X, we ...": one clause after another
        shorter = _LEAD_CLAUSE.sub("", stripped, count=1)
        if shorter == stripped:
            break
        stripped = shorter
    stripped = _ALSO.sub(r"\1", stripped)  # (after the lead: "Moreover, we also show" → "We show")
    return stripped[:1].upper() + stripped[1:] if stripped != sentence else sentence


def _without_dangling_clause(sentence: str) -> str:
    if colon := _COLON_WE.match(sentence):
        sentence = sentence[colon.end()].upper() + sentence[colon.end() + 1 :]
    sentence = _BUILDING_ON.sub(r"\1 ", sentence)
    sentence = _SOLVING_WITH.sub("", sentence)
    sentence = _SOLVING_BY.sub(_solved_by, sentence)
    end = sentence[-1:] if sentence[-1:] in ".!?" else ""
    body = sentence[: len(sentence) - len(end)]
    shorter = _DANGLING_CLAUSE.sub("", body)
    if shorter != body and len(shorter.split()) >= 4:
        return shorter + end
    return _before_leaning_clause(sentence)


def _before_leaning_clause(sentence: str) -> str:
    """A trailing clause that names an unseen problem goes when what comes before it stands whole ("This paper
    extends X to Y, demonstrating that these issues ..." → "This paper extends X to Y.")."""
    dangling = DANGLING.search(sentence)
    if not dangling or DANGLING.search(sentence, 0, dangling.start()):
        return sentence
    for match in reversed(list(_CLAUSE_BREAK.finditer(sentence, 0, dangling.start()))):
        head = sentence[: match.start()].rstrip(" ,")
        if len(head.split()) >= 6 and _is_whole_clause(head):
            return head + "."
    return sentence


def _is_whole_clause(head: str) -> bool:
    """Whether the start of a sentence reads whole: brackets closed, no list begun, no colon, no open end."""
    balanced = all(head.count(a) == head.count(b) for a, b in ("()", "[]"))
    return balanced and not (_LIST_ITEM.search(head) or re.search(r"[:;]", head) or _OPEN_END.search(head))


def _solved_by(match: re.Match[str]) -> str:
    """ "we fill this gap by proposing X" → "we propose X"; "This study aims to ... through the use of X" →
    "This study uses X"; "We address this gap with X" → "We present X"; unchanged for a gerund not known."""
    subject, gerund = match.group(1), (match.group(2) or ("presenting" if match.group(3) else "using")).lower()
    if gerund not in _GERUNDS:
        return match.group(0)
    verb = _GERUNDS[gerund]
    if subject.lower() != "we":  # "this study proposes", "our work studies"
        verb = verb[:-1] + "ies" if re.search(r"[^aeiou]y$", verb) else verb + ("es" if verb.endswith("s") else "s")
    return f"{subject} {verb}" + (" " if match.group(2) is None else "")  # ("the use of ", "with " took a space)


def _score(sentence: str, position: int, title_words: set[str], name: str) -> float:
    """How much a sentence tells a reader about the paper: contribution first, then a numbered result."""
    words = set(_WORD.findall(sentence.lower()))
    contribution = bool(CONTRIBUTION.search(sentence))
    score = 3.0 * contribution + 2.0 * bool(name and name in sentence)
    score += 1.0 * bool(_FINDING.search(sentence)) + 1.0 * min(len(_RESULT.findall(sentence)), 2)
    score += 1.0 * bool(_NUMBER.search(sentence)) + 0.5 * math.sqrt(len(words & title_words))
    # An opening sentence is mostly background, unless it is about this paper ("This paper introduces X", "we").
    own = _is_own(sentence, name)
    score -= 3.0 * bool(_BACKGROUND.search(sentence)) + (2.0 * (not own) if position == 0 and not contribution else 0)
    # What other methods cannot do, unless the sentence is about this paper ("Unlike prior work, SimVLM ...").
    score -= 3.0 * bool(_LIMITATION.search(sentence) and not own)
    # A question the paper asks ("Does scaling help?") and a note that code is out say nothing of the work.
    score -= 2.0 * bool(sentence.endswith("?") and not own) + 3.0 * bool(_AVAILABILITY.search(sentence))
    return score - 2.0 * (len(sentence) < 40)


def _is_own(sentence: str, name: str) -> bool:
    """Whether a sentence speaks of this paper: "we", "our", "this paper", "the proposed", or its name."""
    return bool(_FIRST_PERSON.search(sentence) or (name and name in sentence))


def _leans_back(sentence: str) -> bool:
    """Whether a sentence needs one the reader has not seen: it opens on a pointer, or names a problem as "this
    gap" / "such a trade-off"."""
    return bool(
        _POINTER.match(sentence)
        or _CONTRAST.match(sentence)
        or _LINKED.match(sentence)
        or DANGLING.search(sentence)
        or _LIST_ITEM.match(sentence)
    )


def _sentences(text: str) -> list[str]:
    """The text's sentences; a full stop inside a bracket ("(Optovue Inc., CA)") ends none (a bracket the source
    never closes does not swallow the rest)."""
    sentences: list[str] = []
    for piece in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
        if sentences and sentences[-1].count("(") > sentences[-1].count(")") and piece.count(")") > piece.count("("):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return [_bracket_closed(s) for s in sentences]


def _bracket_closed(sentence: str) -> str:
    """A bracket the source opened and never closed closes before the full stop ("... (English, and Yoruba.")."""
    if sentence.count("(") == sentence.count(")") + 1 and ")" not in sentence[sentence.rfind("(") :]:
        end = len(sentence.rstrip(".!?"))
        return sentence[:end] + ")" + sentence[end:]
    return sentence


def _method_name(title: str) -> str:
    """The paper's name for its method or system, when the title gives one ("SpecInfer: ...")."""
    head = title.split(":", 1)[0].strip() if ":" in title else ""
    return head if head and len(head.split()) <= 3 and any(c.isupper() for c in head[1:]) else ""


def extractive(title: str, abstract: str, max_chars: int) -> str:
    """The abstract's most informative whole sentences that read on their own, within max_chars."""
    abstract = abstract[:MAX_ABSTRACT]  # a feed may send a book; arXiv caps abstracts at 1,920 characters
    name = _method_name(title)
    if name:  # the title names what the macro stood for
        abstract = _NAME_MACRO.sub(lambda _: name, abstract)
    sentences = _sentences(clean_latex(abstract))
    # An abstract cut short (some archives keep 1,000 characters) ends on half a sentence: never use it.
    whole = [
        (i, main_clause(stand_alone(s), max_chars))
        for i, s in enumerate(sentences)
        if _WHOLE.search(s) and len(s.split()) >= 4
    ]
    title_words = set(_WORD.findall(title.lower())) - _STOP
    candidates = [(i, s) for i, s in whole if s.rstrip(".").lower() != title.strip().rstrip(".").lower()]
    if not candidates:
        return ""
    scores = {i: _score(s, i, title_words, name) for i, s in candidates}
    text = dict(candidates)
    # An opener must not point back at a sentence the reader has not seen, lean on a problem only that sentence
    # named ("we fill this gap"), or be a secondary contribution ("We also ...").
    # The opener speaks of the paper when a sentence that does fits: a reader comes for the work, not the field.
    opening = {i: scores[i] + OWN_OPENER * _is_own(text[i], name) for i in text}
    openers = [i for i in sorted(text, key=lambda i: -opening[i]) if not _leans_back(text[i])]
    fitting = [i for i in openers if len(text[i]) <= max_chars]
    # Only background fits while the contribution is longer than the limit: the contribution, cut, says more.
    if not fitting or (openers and opening[fitting[0]] <= 0 and opening[openers[0]] >= 3):
        best = openers[0] if openers else max(text, key=lambda i: scores[i])
        return safe_line(shorten(text[best], max_chars))  # one sentence longer than the limit: cut it
    first = fitting[0]
    chosen = [first]
    for i in sorted(text, key=lambda i: -scores[i]):
        if i == first or len(text[first]) + 1 + len(text[i]) > max_chars:
            continue
        # A second sentence may point back only at the first, right before it.
        if (_leans_back(text[i]) or _BACK_REFERENCE.search(text[i])) and i != first + 1:
            continue
        if text[i].endswith("?"):  # the question the paper asks: its answer is what a reader wants
            continue
        if i < first and (_POINTER.match(text[first]) or _LINKED.match(text[i])):
            continue
        if scores[i] > 0:
            chosen.append(i)
        break
    return safe_line(" ".join(text[i] for i in sorted(chosen)))

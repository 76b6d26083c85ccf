from bot.commentary import clean_latex, extractive, shorten

ABSTRACT = (
    "Large language models have shown remarkable abilities across many tasks. However, their inference cost "
    "is high. In this paper, we propose SpecX, a speculative decoding method that drafts several tokens at "
    "once. SpecX achieves a 2.8x speed-up on LLaMA-65B without any loss in quality. Code is available at "
    "https://github.com/x/y."
)


def test_picks_the_contribution_and_the_result() -> None:
    text = extractive("SpecX: Faster LLM Inference", ABSTRACT, 280)
    assert "we propose SpecX" in text
    assert "2.8x" in text
    assert "remarkable abilities" not in text
    assert "http" not in text
    assert len(text) <= 280


def test_cleans_latex() -> None:
    assert clean_latex(r"We get $\sim$10\% gains with \textbf{\emph{Foo}} on $\mathcal{O}(n)$ time.") == (
        "We get ~10% gains with Foo on O(n) time."
    )


def test_short_abstract_and_no_cue_phrase() -> None:
    assert extractive("T", "A tiny abstract about graphs.", 280) == "A tiny abstract about graphs."
    assert extractive("Same As Title", "Same as title.", 280) == ""


def test_long_sentence_is_cut_at_a_word_boundary() -> None:
    long = "We propose " + " ".join(f"word{i}" for i in range(200)) + "."
    text = extractive("Title", long, 120)
    assert len(text) <= 120
    assert text.endswith("…")
    assert " word" in text and not text[:-1].endswith("wor")


def test_shorten_prefers_a_sentence_boundary() -> None:
    assert shorten("First sentence is here. Second one is longer than the limit allows.", 40) == (
        "First sentence is here."
    )

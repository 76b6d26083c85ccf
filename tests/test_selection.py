"""Ranking inside a topic: centrality and visible notability, never repetition (hand-written papers)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given

from bot.classify import Classifier
from bot.config import Config
from bot.paper import Paper
from bot.selection import _CODE, _LARGE_MODEL, _MODEL_FAMILY, _RELEASE, confidence, explain, rank, ranked_topics, select
from bot.week import Week
from tests.texts import texts_from

WEEK = Week.parse("2023-W20")
PLAIN = "We propose a method and evaluate it on standard benchmarks."


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    config = Config()
    return Classifier(config.topics, config.tags)


def paper(key: str, title: str, abstract: str = PLAIN, **extra: object) -> Paper:
    return Paper(key=key, title=title, authors=("A. Author",), abstract=abstract, url=f"https://arxiv.org/abs/{key}",
                 published=datetime(2023, 5, 16, tzinfo=UTC), **extra)  # type: ignore[arg-type]  # fmt: skip


def ranked(classifier: Classifier, *papers: Paper) -> list[str]:
    """The keys of one topic's candidates, best first."""
    [topic] = [
        r for r in ranked_topics([classifier.score(p) for p in papers], WEEK, set(), {"diffusion": 5.0}) if r.papers
    ]
    return [p.key for p, _ in topic.papers]


def test_repetition_does_not_outrank_a_paper_about_the_topic(classifier: Classifier) -> None:
    repeats = paper("2305.00001", "Benchmarking Image Generators",
                    "We compare generators. " + "A diffusion model is one of them. " * 10)  # fmt: skip
    about = paper("2305.00002", "Faster Sampling for Diffusion Models",
                  "We propose a sampler for diffusion models that needs fewer steps.")  # fmt: skip
    assert "diffusion" in classifier.score(repeats).topics  # both are candidates: the ranking decides
    assert ranked(classifier, repeats, about) == ["2305.00002", "2305.00001"]


def test_centrality_counts_title_and_contribution_not_mentions(classifier: Classifier) -> None:
    in_title = classifier.score(paper("k1", "Video Diffusion Models", "We propose a video diffusion model."))
    in_passing = classifier.score(paper("k2", "A Study of Generators",
                                        "Diffusion models are popular. Diffusion models are slow. Diffusion models "
                                        "cost a lot. We evaluate their samples with humans."))  # fmt: skip
    assert in_title.centrality["diffusion"] == 1.0
    assert in_passing.centrality.get("diffusion", 0.0) < 0.5


@pytest.mark.parametrize(
    ("signal", "extra"),
    [
        ("hf_daily", {"hf_daily": 1.0, "upvotes": 40}),
        ("curated", {"curated_weight": 2.0}),
        ("venue", {"comment": "Accepted at ICML 2023; 12 pages"}),
        ("code", {"comment": "Code: https://github.com/example/sampler"}),
    ],
)
def test_each_visible_signal_lifts_a_paper(classifier: Classifier, signal: str, extra: dict[str, object]) -> None:
    base = paper("2305.00003", "Guided Diffusion Models for Image Editing")
    lifted = replace(base, key="2305.00004", **extra)  # type: ignore[arg-type]
    assert rank(lifted, "diffusion").components[signal] > 0 == rank(base, "diffusion").components[signal]
    assert ranked(classifier, base, lifted) == ["2305.00004", "2305.00003"]


@pytest.mark.parametrize(
    ("signal", "abstract"),
    [
        ("code", "We propose a guided diffusion model for editing. Code is publicly available."),
        ("release", "We introduce a new benchmark for diffusion editing and release our models."),
        ("large_model", "We guide Stable Diffusion with large language models to edit images."),
        ("named", "We present EditFlow-2, a guided diffusion model for editing."),
        ("named", "Our method, Guided Latent Editing (GLE), is a guided diffusion model for editing."),
        ("model_family", "We release a family of open diffusion models for editing, from 1B to 8B parameters."),
        ("model_family", "This technical report describes our guided diffusion model for editing."),
    ],
)
def test_signals_in_the_abstract(classifier: Classifier, signal: str, abstract: str) -> None:
    base = paper("2305.00005", "Guided Diffusion Models for Image Editing",
                 "We propose a guided diffusion model for editing.")  # fmt: skip
    lifted = replace(base, key="2305.00006", abstract=abstract)
    assert rank(lifted, "diffusion").components[signal] > 0 == rank(base, "diffusion").components[signal]
    assert ranked(classifier, base, lifted)[0] == "2305.00006"


def test_a_common_term_and_its_acronym_are_not_a_name() -> None:
    text = "Large Language Models (LLMs) and Denoising Diffusion Models (DDMs) are costly; we propose a sampler."
    assert rank(paper("k", "Faster Diffusion Sampling", text), "diffusion").components["named"] == 0


_FRAGMENTS = [
    "we ", "release", "open-source ", "a new ", "dataset", "code ", "is ", "publicly ", "available", "https://",
    "github.com/x", ". ", "llm", "s ", "7", "b parameters", " billion", "gpt-4", "x", " ", "technical report",
    "family of ", "models", "open-", "weights",
]  # fmt: skip


@given(texts_from(_FRAGMENTS, max_size=20))
def test_a_signal_skipped_by_its_literals_would_not_have_matched(text: str) -> None:
    # The literal check only spares scans: it never changes whether a signal is found.
    for signal in (_CODE, _RELEASE, _LARGE_MODEL, _MODEL_FAMILY):
        assert signal.found(text) == (signal.regex.search(text) is not None)


def test_venue_words_alone_are_not_a_venue() -> None:
    assert rank(paper("k", "X", comment="12 pages, 5 figures"), "diffusion").components["venue"] == 0


def test_selected_items_carry_their_rank_and_respect_caps(classifier: Classifier) -> None:
    papers = [classifier.score(paper(f"2305.0001{i}", f"Diffusion Models for Task {i}")) for i in range(5)]
    candidates = ranked_topics(papers, WEEK, {"2305.00010"}, {"diffusion": 5.0})
    chosen = select(candidates, per_topic=3, max_items=10)
    assert len(chosen) == 3 and "2305.00010" not in {p.key for p in chosen}
    components = [{k: v for k, v in p.rank.items() if k not in ("total", "confidence")} for p in chosen]
    assert all(p.rank["total"] == pytest.approx(sum(c.values())) for p, c in zip(chosen, components, strict=True))
    assert all(0.5 <= float(p.rank["confidence"]) <= 1 for p in chosen)


def test_confidence_grows_with_the_score_over_the_threshold() -> None:
    scored = [paper("k", "X", scores={"diffusion": s}) for s in (0.0, 5.0, 10.0, 15.0)]
    assert [confidence(p, "diffusion", 5.0) for p in scored] == [0.0, 0.5, 0.75, 0.875]


def test_a_section_abstains_instead_of_filling_its_count(classifier: Classifier) -> None:
    # One paper about the topic and three that only touch it: the section shows one, not `per_topic`.
    sure = paper(
        "2305.00021",
        "Faster Sampling for Latent Diffusion Models",
        "We propose a sampler for latent diffusion models. Our diffusion sampler needs four denoising steps.",
    )
    weak = [paper(f"2305.0003{i}", f"A Study of Image Generators {i}",
                  "We compare image generators, among them a diffusion model, and score their samples.")
            for i in range(3)]  # fmt: skip
    scored = [classifier.score(p) for p in [sure, *weak]]
    candidates = ranked_topics(scored, WEEK, set(), {"diffusion": 5.0})
    assert len(candidates[0].papers) == 4  # all are candidates: the bar, not the threshold, leaves three out
    chosen = select(candidates, per_topic=3, max_items=10, min_confidence=0.65)
    assert [p.key for p in chosen] == ["2305.00021"]
    explained = explain(candidates, {p.key for p in chosen}, per_topic=3, min_confidence=0.65)
    assert "confidence=" in explained

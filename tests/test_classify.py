"""Hand-written labelled examples that pin the default topics' behaviour (not taken from any dev file)."""

from datetime import UTC, datetime

import pytest

from bot.classify import Classifier, Cue, normalize_tags
from bot.config import Config, TopicConfig
from bot.paper import Paper


def paper(title: str, abstract: str = "", categories: tuple[str, ...] = ()) -> Paper:
    return Paper(key="x", title=title, authors=(), abstract=abstract, url="u",
                 published=datetime(2023, 5, 1, tzinfo=UTC), categories=categories)  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    config = Config()
    return Classifier(config.topics, config.tags)


CASES = [
    ("Sampling Faster from Latent Diffusion Models with Learned Step Schedules",
     "Denoising diffusion models generate high-quality images but sampling is slow. We learn a step schedule.",
     {"diffusion"}),
    ("Discrete Diffusion for Text Generation",
     "We propose a diffusion model over discrete tokens; discrete states are corrupted and denoised.",
     {"diffusion"}),
    ("Graph Neural Networks for Molecule Property Prediction",
     "We propose an efficient message passing scheme that is more efficient than prior work.",
     set()),
    ("A Vision-Language Model That Reads Charts",
     "We train a vision-language model on chart images paired with text and evaluate on chart QA.",
     {"mllm"}),
    ("GPTQ-style 3-bit Weight Quantization for Large Language Models",
     "We propose a post-training quantization method for LLMs that reaches 3-bit weights.",
     {"quantization", "llm-efficiency"}),
    ("Linear-Time Attention for Long-Context Language Models",
     "Self-attention has quadratic complexity. We propose a linear attention with 4x lower latency.",
     {"llm-efficiency"}),
    ("Heat Diffusion on Manifolds for Shape Analysis",
     "We study the heat diffusion equation on triangle meshes.",
     set()),
    ("Vector-Quantized Image Tokenizers for Autoregressive Generation",
     "We train a VQ-VAE whose vector quantization codebook yields discrete image tokens.",
     set()),
    ("Efficient Data Loading for Robot Learning",
     "Our loader is efficient.",
     set()),
    ("Denoising Autoencoders for Sentence Representations",
     "We train denoising autoencoders on text; unlike diffusion models, a single denoising step is used.",
     set()),
    ("Prompt Optimization by Gradient Search",
     "We optimize discrete prompts for language models. As a side result, the prompts also transfer to "
     "text-to-image diffusion models.",
     set()),
    ("Scaling Laws for Mixed-Modal Generative Language Models",
     "We study models that read and write text and images.",
     {"mllm"}),
    ("A Layout-Aware Transformer for Document Understanding",
     "We pre-train on document images with text and image masking for document AI.",
     set()),
    ("Transformer Quality in Linear Time",
     "We revisit attention and propose a gated layer that runs in linear time on long sequences.",
     {"llm-efficiency"}),
    # A long context is a capability; the cost argument makes it an efficiency paper.
    ("Memory Tokens for Long-Range Question Answering",
     "We study long-range dependencies in long documents and add memory tokens to a reader.",
     set()),
    ("Chunked Attention for Long Documents",
     "Full attention scales quadratically with length; ours scales linearly with the number of tokens.",
     {"llm-efficiency"}),
    ("Compressing Pre-trained Language Models for Edge Devices",
     "We compress BERT by removing heads, so it runs on mobile phones with half the latency.",
     {"llm-efficiency"}),
    ("Efficient Training of Trillion-Parameter Language Models with Pipeline Parallelism",
     "We train on GPU clusters with tensor parallelism and pipeline parallelism at high throughput.",
     set()),
    # Quantizing latents into a codebook learns a representation; it does not make a model cheaper.
    ("Latent Quantization for Disentangled Representations",
     "We quantize each latent dimension to a small scalar codebook and train an autoencoder on images.",
     set()),
    ("Layer Pruning and Depth Reduction for Fast BERT Inference",
     "We remove half of the layers.",
     {"llm-efficiency"}),
]  # fmt: skip


@pytest.mark.parametrize(("title", "abstract", "topics"), CASES)
def test_hand_labelled_examples(classifier: Classifier, title: str, abstract: str, topics: set[str]) -> None:
    assert set(classifier.classify(paper(title, abstract)).topics) == topics


def test_efficient_in_the_abstract_alone_is_not_llm_efficiency(classifier: Classifier) -> None:
    result = classifier.classify(paper("A Study of Dialogue Agents", "Our agent is efficient and efficiently trained."))
    assert "llm-efficiency" not in result.topics
    assert 0 < result.scores["llm-efficiency"] < 4


def test_repeated_abstract_mentions_count_more_than_one(classifier: Classifier) -> None:
    once = classifier.classify(paper("A study", "We use a diffusion model."))
    thrice = classifier.classify(paper("A study", "A diffusion model. The diffusion model. Our diffusion model."))
    assert thrice.scores["diffusion"] == 3 * once.scores["diffusion"]


def test_overlapping_cues_count_a_mention_once(classifier: Classifier) -> None:
    hits = [h for h in classifier.explain(paper("A study", "We use text-to-image diffusion models.")) if h.points > 0]
    assert len([h for h in hits if h.topic == "diffusion"]) == 1


def test_title_counts_more_than_abstract(classifier: Classifier) -> None:
    in_title = classifier.classify(paper("Multimodal Large Language Models", "We study them."))
    in_abstract = classifier.classify(paper("A study", "We study multimodal large language models."))
    assert in_title.scores["mllm"] > in_abstract.scores["mllm"]


def test_tags_are_specific_first_and_bounded(classifier: Classifier) -> None:
    result = classifier.classify(paper(
        "Text-to-Image Diffusion Models with Few-Shot Vision-Language Multimodal LLM Transformers Attention",
        "diffusion models diffusion models"))  # fmt: skip
    assert result.tags[:2] == ("text2img", "ddpm")
    assert 1 <= len(result.tags) <= 5


def test_topic_tag_is_the_fallback(classifier: Classifier) -> None:
    result = classifier.classify(paper("Denoising Score Matching at Scale", "Diffusion here. And diffusion there."))
    assert result.topics == ("diffusion",)
    assert result.tags == ("ddpm",)


def test_requires_gates_a_topic_and_is_explained() -> None:
    topic = TopicConfig(threshold=1, cues={"speech": 1}, requires=["robots?"])
    classifier = Classifier({"robot-speech": topic}, {})
    assert classifier.classify(paper("Speech for robots")).topics == ("robot-speech",)
    assert classifier.classify(paper("Speech for people")).topics == ()
    assert [h.kind for h in classifier.explain(paper("Speech for people"))] == ["requires"]


def test_implied_topics() -> None:
    topics = {"efficiency": TopicConfig(threshold=4, cues={"pruning": 3}, implied_by=["quantization"]),
              "quantization": TopicConfig(threshold=4, cues={"quantization": 3})}  # fmt: skip
    result = Classifier(topics, {}).classify(paper("Quantization for all"))
    assert result.topics == ("quantization", "efficiency")
    assert result.scores["efficiency"] == 0


def test_negative_cues_and_category_priors_are_explained() -> None:
    topic = TopicConfig(threshold=3, cues={"diffusion": 2}, negative={"heat diffusion": 2}, categories={"cs.CV": 1})
    classifier = Classifier({"diffusion": topic}, {})
    hits = classifier.explain(paper("Heat diffusion", categories=("cs.CV",)))
    assert {(h.kind, h.where, h.points) for h in hits} == {
        ("cue", "title", 4.0), ("negative", "title", -4.0), ("category", "categories", 1.0)}  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [("diffusion models?", ("diffusion model",)), ("kv[- ]cache", ("cache",)),
     ("prun(e|ed|ing)|lottery tickets?", ("prun", "lottery ticket")),
     ("diffusion[- ](based|process(es)?)", ("diffusion",))],
)  # fmt: skip
def test_cue_prefilter_literals_are_sound(pattern: str, literals: tuple[str, ...]) -> None:
    assert Cue.compile(pattern).literals == literals


def test_cues_match_on_word_bounds() -> None:
    cue = Cue.compile("moe")
    assert cue.spans("moe layers") == [(0, 3)]
    assert cue.spans("hemoe, moes") == []
    assert len(Cue.compile("LLMs?").spans("two llms and an llm")) == 2  # patterns are case-insensitive
    assert len(Cue.compile(r"\d+-bit").spans("4-bit and 8-bit")) == 2  # escapes keep their case


def test_normalize_tags() -> None:
    assert normalize_tags(["#LLM", "few shot", "llm", "bad tag!", "instruction-tuning"]) == [
        "llm", "few_shot", "instruction-tuning"]  # fmt: skip


def test_every_default_cue_has_a_prefilter_literal() -> None:
    # Without one, a topic's gate is off and every paper runs every regex (see bench/week.py).
    config = Config()
    patterns = [p for t in config.topics.values() for p in [*t.cues, *t.negative, *t.requires]]
    patterns += [p for cues in config.tags.values() for p in cues]
    assert [p for p in patterns if not Cue.compile(p).literals] == []

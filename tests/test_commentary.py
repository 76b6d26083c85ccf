import pytest
from hypothesis import given

from bot.commentary import _FULL_STOP_GAP, _LINK_CLAUSES, _without_links, clean_latex, extractive, shorten
from tests.texts import texts_from

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


# Each rule of a commentary that reads on its own, on hand-written abstracts.


def test_a_leading_purpose_clause_is_removed_and_the_sentence_recapitalised() -> None:
    abstract = ("Federated learning is costly on phones. To overcome these drawbacks, we propose FedLite, a "
                "federated method that prunes clients' models before each round.")  # fmt: skip
    assert extractive("FedLite: Light Federated Learning", abstract, 280).startswith("We propose FedLite, ")


@pytest.mark.parametrize(
    "lead",
    [
        "Specifically, ",
        "To this end, ",
        "Hence, ",
        "Instead, ",
        "Motivated by this, ",
        "Surprisingly, ",
        "In fact, ",
        "Next, ",
        "Here, ",
        "Then ",  # without a comma, right before "we"
        "Empirically, ",
        "Inspired by Joint Embedding Predictive Architectures (LeCun, 2022) in vision, ",  # a bracket's comma
        "Inspired by causal learning, in particular the invariance principle, ",  # an apposition
        "In addition to these strategies, ",
    ],
)
def test_a_leading_connective_is_removed(lead: str) -> None:
    abstract = f"Diffusion sampling is slow. {lead}we introduce FastSampler, which needs only four steps."
    assert extractive("FastSampler: Four-Step Diffusion", abstract, 280) == (
        "We introduce FastSampler, which needs only four steps."
    )


def test_a_sentence_pointing_back_is_not_the_opener() -> None:
    abstract = ("Video models are expensive to train on long clips. These models also forget early frames. "
                "We propose ClipMem, a memory that keeps early frames in a small cache.")  # fmt: skip
    text = extractive("ClipMem: Remembering Early Frames", abstract, 280)
    assert text.startswith("We propose ClipMem")
    assert not text.startswith("These")


def test_a_pointer_may_follow_the_sentence_it_points_at() -> None:
    abstract = ("We propose ClipMem, a memory that keeps early frames in a small cache. It reduces memory use "
                "by 40% on three video benchmarks.")  # fmt: skip
    assert extractive("ClipMem: Remembering Early Frames", abstract, 280) == abstract


def test_this_paper_is_a_fine_opener() -> None:
    abstract = "Many tasks need long context. This paper proposes RingCache, a key-value cache that halves memory."
    assert extractive("RingCache", abstract, 280).startswith("This paper proposes RingCache")


def test_a_removed_link_takes_its_clause_with_it() -> None:
    abstract = ("Our framework, with code publicly available at https://github.com/x/y, aims to cut the cost of "
                "fine-tuning by half. Code is available at https://x.org/a.")  # fmt: skip
    text = extractive("A Framework", abstract, 280)
    assert text == "Our framework aims to cut the cost of fine-tuning by half."


@pytest.mark.parametrize(
    "abstract",
    [
        r"We propose LinAttn, which runs in $\mathcal{O}(n)$ time (\cite{prior}) on long inputs.",
        "We propose LinAttn (https://linattn.github.io) which runs in linear time on long inputs.",
        "We propose LinAttn, which runs in linear time; see https://linattn.github.io for the code.",
    ],
)
def test_no_link_or_formula_residue(abstract: str) -> None:
    text = extractive("LinAttn: Linear Attention", abstract, 280)
    assert text.startswith("We propose LinAttn")
    for residue in ("$", "\\", "{", "}", "()", "[]", " at.", " from.", " via.", " ,", " ."):
        assert residue not in text


def test_sentences_are_chosen_to_fit_not_cut() -> None:
    long_background = "Recent large language models " + "and their many variants " * 12 + "are costly to serve."
    abstract = (f"{long_background} We propose SpecTree, a tree-based speculative decoder. "
                "SpecTree is 2.6x faster than incremental decoding on LLaMA-7B.")  # fmt: skip
    text = extractive("SpecTree: Tree Speculation", abstract, 140)
    assert text == ("We propose SpecTree, a tree-based speculative decoder. SpecTree is 2.6x faster than incremental "
                    "decoding on LLaMA-7B.")  # fmt: skip
    assert extractive("SpecTree: Tree Speculation", abstract, 100) == (
        "We propose SpecTree, a tree-based speculative decoder."
    )


def test_an_abstract_cut_short_never_gives_half_a_sentence() -> None:
    abstract = "We propose TinyQ, a 3-bit quantizer for LLMs. On LLaMA-13B it keeps perplexity within 0.1 of"
    assert extractive("TinyQ: 3-bit LLMs", abstract, 280) == "We propose TinyQ, a 3-bit quantizer for LLMs."


def test_the_contribution_comes_first_then_the_numbered_result() -> None:
    abstract = ("Large language models have shown remarkable abilities. However, serving them is costly. "
                "We introduce PagedKV, a KV cache manager for LLM serving. Our experiments cover four models. "
                "PagedKV improves throughput by 2.4x over prior systems at the same latency.")  # fmt: skip
    text = extractive("PagedKV: Efficient LLM Serving", abstract, 280)
    assert text == ("We introduce PagedKV, a KV cache manager for LLM serving. PagedKV improves throughput by 2.4x "
                    "over prior systems at the same latency.")  # fmt: skip


def test_what_other_methods_cannot_do_is_not_the_commentary() -> None:
    abstract = (
        "Pre-trained language models are widely used. Static compression methods allocate fixed computation to "
        "every input. Dynamic token pruning shortens the sequences but is unable to change the model size and "
        "hardly reaches the speedups of static pruning. In this paper, we propose a model acceleration approach for "
        "large language models that combines dynamic token downsampling with static pruning, trained with an "
        "information bottleneck loss. Our model, TokDown, achieves a 15x FLOPs speedup with an accuracy drop under "
        "7% compared to BERT."
    )
    text = extractive("TokDown: Dynamic Token Downsampling for Compact and Efficient Language Models", abstract, 280)
    assert "unable" not in text and "TokDown, achieves a 15x FLOPs speedup" in text


def test_a_contrast_with_prior_work_about_the_paper_itself_stays() -> None:
    abstract = (
        "Vision-language pretraining has become popular. Unlike prior work, VLX needs no object detector and is "
        "trained end-to-end with one objective on noisy image-text pairs. It is simple."
    )
    assert extractive("VLX: Simple Vision-Language Pretraining", abstract, 280).startswith("Unlike prior work, VLX")


def test_a_sentence_is_not_split_at_an_abbreviation() -> None:
    abstract = (
        "We propose TinyMT, a distilled translation model for phones. TinyMT matches a large translation model "
        "(Tran et al. 2021) with two orders of magnitude fewer parameters, e.g. 40M instead of 4.7B."
    )
    text = extractive("TinyMT: Distilled Translation", abstract, 280)
    assert text.endswith("instead of 4.7B.") and "(Tran et al. 2021)" in text


def test_latex_quotes_and_complexities_read_as_text() -> None:
    assert clean_latex(r"a framework called ``GETMusic.'' It runs in $O(n\log n)$, not $O(\sqrt{d})$.") == (
        "a framework called “GETMusic.” It runs in O(n log n), not O(√d)."
    )
    assert clean_latex(r"error $\left(x \leq 3\right)$ at 5\% cost.") == "error (x ≤ 3) at 5% cost."
    abstract = "We introduce a model called ``QuickDiff.'' QuickDiff samples images in four steps with no loss."
    assert extractive("QuickDiff", abstract, 280).startswith("We introduce a model called “QuickDiff.”")


@pytest.mark.parametrize(
    ("title", "abstract", "max_chars", "expected"),
    [
        pytest.param(  # no sentence break was seen before a name in lower case: the two made one long sentence
            "xNet: Sparse Attention for Books",
            "Long documents are everywhere. We propose xNet, a sparse attention model for long documents. xNet is "
            "trained on a large corpus of books, articles, manuals and reports collected from many public sources "
            "over several years by the authors.",
            200, "We propose xNet, a sparse attention model for long documents.", id="name-in-lower-case",
        ),
        pytest.param(
            "Skimming Readers",
            "Reading long documents is slow for every model. Thus, taking inspiration from how people skim pages "
            "of a book, we design a reader that skips paragraphs it predicts to be irrelevant.",
            280, "We design a reader that skips paragraphs it predicts to be irrelevant.", id="stacked-lead-clauses",
        ),
        pytest.param(
            "Pure 8-bit Training",
            "Lower precision is highly desirable as it makes inference faster and reduces memory. In this paper, "
            "we shed light on the overlooked accuracy of pure 8-bit training for convolutional networks.",
            120, "In this paper, we shed light on the overlooked accuracy of pure 8-bit training for convolutional "
            "networks.", id="opening-motivation-loses",
        ),
        pytest.param(  # the contribution, cut, says more than the only sentence that fits
            "Image Adapters",
            "Following the success of language models, image tasks are studied widely. We develop a method that "
            + "adapts a pretrained language model to images " * 4 + "at once.",
            120, "We develop a method that adapts a pretrained language model to images adapts a pretrained "
            "language model to images…", id="cut-contribution-over-background",
        ),
        pytest.param(  # "these representations" needs the sentence that named them
            "FuseNet: One Space",
            "We propose FuseNet, a model that combines three encoders into one shared space. Many encoders exist "
            "for images and speech. Tokens are then decoded from these representations, improving captions by 12%.",
            280, "We propose FuseNet, a model that combines three encoders into one shared space.",
            id="second-sentence-leans-on-unseen-one",
        ),
        pytest.param(
            "Training at Scale",
            "Our system trains a 1-trillion-parameter model at 52% of peak throughput on 3,072 GPUs. Faster "
            "training schemes that reduce memory have been proposed for large models before.",
            280, "Our system trains a 1-trillion-parameter model at 52% of peak throughput on 3,072 GPUs.",
            id="others-proposals-are-background",
        ),
        pytest.param(  # a number alone does not make the field's state the paper's news
            "Learned Masks for Sensing",
            "Sparse signals can be recovered from 5x fewer measurements than classic sampling needs. We learn "
            "subsampling masks with a flow model trained for the downstream task.",
            120, "We learn subsampling masks with a flow model trained for the downstream task.",
            id="the-opener-speaks-of-the-paper",
        ),
        pytest.param(  # a contribution over the limit ends at its main clause, before the list
            "KVLite: Cache Compression",
            "Long contexts fill the cache. We propose KVLite, a training-free cache compression framework that "
            "scores tokens along three axes: (i) a spatial score from mutual information; (ii) a temporal discount "
            "for persistently attended entries; and (iii) an entropy-derived temperature.",
            160, "We propose KVLite, a training-free cache compression framework that scores tokens along three "
            "axes.", id="main-clause-before-a-list",
        ),
        pytest.param(  # ... or before a trailing consequence
            "Self-Preference Tuning",
            "Hallucination is common. We propose SPT, a training paradigm in which the model generates and "
            "learns from its own preference pairs, thereby directly addressing the identified visual bottlenecks "
            "while inherently avoiding off-policy data.",
            160, "We propose SPT, a training paradigm in which the model generates and learns from its own "
            "preference pairs.", id="main-clause-before-thereby",
        ),
        pytest.param(  # "(ii) ..." is an item of a list the reader never saw begin
            "ListNet: Two Findings",
            "We propose ListNet, a ranking model for search with two findings. (i) Depth matters little. (ii) "
            "Width matters a lot and gives 9% better recall on 4 benchmarks.",
            280, "We propose ListNet, a ranking model for search with two findings.", id="list-item-not-used",
        ),
        pytest.param(  # "this assumption" needs the sentence that stated it
            "BlurNVS: Views from Blur",
            "Novel view synthesis assumes sharp inputs. Motion blur breaks this assumption by corrupting local "
            "details. We propose BlurNVS, a framework that renders novel views from blurred images.",
            280, "We propose BlurNVS, a framework that renders novel views from blurred images.",
            id="unseen-assumption",
        ),
        pytest.param(  # a name macro arXiv keeps bare becomes the title's name
            "DFlare: Scaling Up Drafts",
            r"Drafts are slow. In this paper, we present \modelname, which fuses draft layers and decodes 5x faster.",
            280, "In this paper, we present DFlare, which fuses draft layers and decodes 5x faster.", id="name-macro",
        ),
        pytest.param(
            "Does Model Scaling Improve Answers to Ambiguous Questions?",
            "Ambiguous questions are a challenge for question answering. Does model scaling improve the answers to "
            "ambiguous questions? In this study, we investigate answer quality across four model sizes. Our code and "
            "models are publicly available on GitHub and Hugging Face Hub.",
            280, "In this study, we investigate answer quality across four model sizes.", id="no-question-no-code-note",
        ),
        pytest.param(  # "To address this, ..." leans on an unseen sentence: it neither opens nor goes first
            "S-SPPO: Semantic-Calibrated Self-Play",
            "Preference optimization is popular. To address this, recent work has introduced self-play preference "
            "optimization with win-lose pairs. We propose S-SPPO, a semantic calibration framework for self-play.",
            280, "We propose S-SPPO, a semantic calibration framework for self-play.", id="linked-never-first",
        ),
        pytest.param(  # "this report" speaks of the paper as "this paper" does
            "Overview of the Document Retrieval Challenge",
            "Retrieval over rich documents is essential. Systems are ranked by mean recall over two tasks. This "
            "report describes the challenge design, datasets and evaluation protocol.",
            280, "This report describes the challenge design, datasets and evaluation protocol.", id="this-report",
        ),
        pytest.param(
            "NollySenti",
            "We create NollySenti, a dataset of movie reviews in five languages (English, Hausa, and Yoruba.",
            280, "We create NollySenti, a dataset of movie reviews in five languages (English, Hausa, and Yoruba).",
            id="unclosed-bracket-closed",
        ),
    ],
)  # fmt: skip
def test_the_commentary_is_about_this_paper(title: str, abstract: str, max_chars: int, expected: str) -> None:
    assert extractive(title, abstract, max_chars) == expected


_FRAGMENTS = [
    "We propose X", ".", ". ", ",", ", ", ";", " ", "\n", "(", ")", "code", "and our models", "is available",
    "are released", " at ", "at: ", "https://github.com/a/b", "www.example.org/x.y", "http://x.io.", "see",
]  # fmt: skip


@given(texts_from(_FRAGMENTS))
def test_links_are_dropped_stretch_by_stretch_as_from_the_whole_text(text: str) -> None:
    # Links are looked for only between full stops followed by a space (1.3 ms less an abstract); the result
    # must be what the clauses make of the whole text.
    whole = text
    for clause in _LINK_CLAUSES:
        whole = clause.sub(lambda m: " " if m.group(0).endswith(",") else "", whole)
    assert "".join(map(_without_links, _FULL_STOP_GAP.split(text))) == whole


@pytest.mark.parametrize(
    ("sentence", "standing_alone"),
    [
        # a closing clause that leans on the problem the sentence before named goes
        ("Therefore, we propose a novel methodology to address this issue in this work.",
         "We propose a novel methodology."),
        ("We design a sparse cache, which mitigates this bottleneck.", "We design a sparse cache."),
        # "solving X by doing" becomes the doing
        ("We address these challenges by introducing MindZero, a self-supervised reasoning framework.",
         "We introduce MindZero, a self-supervised reasoning framework."),
        ("In this paper, we fill this gap by providing benchmarks of ten adapters.",
         "In this paper, we provide benchmarks of ten adapters."),
        # "closing this gap with X": X
        ("We propose closing this gap with CodeLM, the first model of its kind.",
         "We propose CodeLM, the first model of its kind."),
        # building on an approach only the sentence before named
        ("We build upon this approach and develop a method for tuning an LLM on images.",
         "We develop a method for tuning an LLM on images."),
        ("This study aims to fill this knowledge gap by proposing guidelines for synthetic datasets.",
         "This study proposes guidelines for synthetic datasets."),
        ("In this study, we seek to fill this gap through the use of thirteen transformer models.",
         "In this study, we use thirteen transformer models."),
        ("We address this gap with a precautionary framework that maps evidence to obligations.",
         "We present a precautionary framework that maps evidence to obligations."),
        ("We study this problem by proposing algorithms for nonlinear bandits.",
         "We propose algorithms for nonlinear bandits."),
        # naming the problem only to say it is lifted
        ("We lift this long-standing limitation and provide a method of moments beyond reweighting.",
         "We provide a method of moments beyond reweighting."),
        # a trailing clause that leans on the unseen problem goes when the rest reads whole
        ("This paper extends the investigation to a range of capsule networks, demonstrating that these issues "
         "are general.", "This paper extends the investigation to a range of capsule networks."),
        # what precedes "we propose" after a colon is framing
        ("The primary contribution of this paper is to address the Achilles heel of hashing: we propose a "
         "rounding scheme.", "We propose a rounding scheme."),
        # a secondary contribution never opens as one
        ("We also propose a fine-tuning strategy for CLIP.", "We propose a fine-tuning strategy for CLIP."),
        ("Moreover, we also show that the cache halves memory.", "We show that the cache halves memory."),
    ],
)  # fmt: skip
def test_a_sentence_is_made_to_stand_alone(sentence: str, standing_alone: str) -> None:
    from bot.commentary import stand_alone

    assert stand_alone(sentence) == standing_alone


def test_a_sentence_that_names_an_unseen_problem_loses_to_one_that_stands_alone() -> None:
    abstract = ("Serving long prompts is slow. In this paper, we introduce a new perspective to optimize this "
                "trade-off by prompting compressed models. PromptCache reuses the keys of shared prefixes and "
                "serves prompts 3x faster.")  # fmt: skip
    text = extractive("PromptCache: Reusing Prefix Keys", abstract, 280)
    assert "this trade-off" not in text and text.startswith("PromptCache reuses")


@pytest.mark.parametrize("lead", ["Yet", "However,", "Nevertheless,", "In contrast,"])
def test_the_other_half_of_a_contrast_never_opens(lead: str) -> None:
    abstract = (f"{lead} current caches waste memory on repeated prefixes. We propose PrefixShare, a cache that "
                "stores each shared prefix once and cuts memory by 60%.")  # fmt: skip
    assert extractive("PrefixShare", abstract, 280).startswith("We propose PrefixShare")


def test_a_title_like_name_after_dr_is_not_split() -> None:
    abstract = "We introduce Dr. DocBench, a benchmark for document parsing with 52 domains. It is hard."
    assert extractive("Dr. DocBench: A Benchmark", abstract, 280).startswith("We introduce Dr. DocBench, a")


@pytest.mark.parametrize(
    "sentence",
    [
        # a result, not a contribution: ended early it may say the opposite ("not only in A.")
        "Results show that the model is best not only in text-centric tasks, including form understanding and "
        "receipt parsing, but also in image-centric tasks such as layout analysis.",
        # the only break leaves a clause open ("... is.")
        "We show in this paper that the approach we introduce is: simpler, faster and far more accurate than every "
        "baseline on all tasks.",
    ],
)  # fmt: skip
def test_a_long_sentence_keeps_its_end_when_no_main_clause_stands_alone(sentence: str) -> None:
    from bot.commentary import main_clause

    assert main_clause(sentence, 110) == sentence


def test_a_long_contribution_ends_at_the_colon_before_its_list() -> None:
    from bot.commentary import main_clause

    sentence = ("We propose Composer, a framework with three signals: design sparks, which provide demonstrations; "
                "world feedback, which checks stability; and a verifier.")  # fmt: skip
    assert main_clause(sentence, 110) == "We propose Composer, a framework with three signals."


def test_a_space_the_source_lost_after_a_comma_comes_back() -> None:
    assert clean_latex("a framework for one-step models,addressing inversion, with 1,000 steps") == (
        "a framework for one-step models, addressing inversion, with 1,000 steps"
    )


def test_a_full_stop_inside_a_bracket_ends_no_sentence() -> None:
    abstract = ("Staging AMD is slow. We propose GradeNet, trained on scans of a swept-source system (SOLIX; "
                "Optovue Inc., CA). Clinicians agree with it.")  # fmt: skip
    text = extractive("GradeNet: AMD Staging", abstract, 280)
    assert text.startswith("We propose GradeNet, trained on scans of a swept-source system (SOLIX; Optovue Inc. CA).")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a LaTeX link with its clause, and a tie before it
        (r"We release OpenSLU, a toolkit for spoken language understanding, and released at \url{https://x.io/a}.",
         "We release OpenSLU, a toolkit for spoken language understanding."),
        (r"We develop an Iterative Reading-then-Reasoning~(IRR) approach for tables.",
         "We develop an Iterative Reading-then-Reasoning (IRR) approach for tables."),
        # a space the source lost after a full stop
        ("We introduce talking-heads attention, which mixes heads.While cheap, it helps.",
         "We introduce talking-heads attention, which mixes heads. While cheap, it helps."),
        # escaped braces, ampersands and underscores
        (r"Systems are ranked by Recall@\{1,3,5\} on R\&D and Test\_60.",
         "Systems are ranked by Recall@1,3,5 on R&D and Test_60."),
        # a quote opened curly and closed straight is one pair
        ('We employ “Introspective Tips" to help LLMs.', "We employ “Introspective Tips” to help LLMs."),
    ],
)  # fmt: skip
def test_latex_links_ties_and_lost_spaces(source: str, expected: str) -> None:
    assert clean_latex(source) == expected

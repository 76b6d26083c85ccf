"""The base of every delivery channel: identity and limits as class attributes, parts rendered purely."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.config import Config
from bot.digest import Digest


@dataclass(frozen=True)
class Part:
    """One message of a digest on one channel: `id` is deterministic (a number, or a recipient)."""

    id: str
    payload: Any

    @property
    def hash(self) -> str:
        """A content hash, so the ledger can tell a changed part from the one it sent."""
        return hashlib.sha256(repr(self.payload).encode()).hexdigest()[:16]


class Channel(ABC):
    """A delivery service. Subclasses set `name` and `max_length`, render parts and send one part."""

    name: ClassVar[str]
    max_length: ClassVar[int]
    # Whether a failed part must stop the later ones (a chat reads in order; mail recipients are independent).
    ordered: ClassVar[bool] = True

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @abstractmethod
    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """The digest as this channel's messages, each within its limits (pure)."""

    @abstractmethod
    def send(self, part: Part, before_request: Callable[[], None] = lambda: None) -> str:
        """Deliver one part and return the remote message id; raise DeliveryError on failure.

        `before_request` runs right before each request is written, after every wait (rate limits, 429s):
        the ledger marks the part pending there, so a kill during a wait leaves nothing ambiguous. A failure
        after the request may have reached the service is `DeliveryError(ambiguous=True)`, never retried.
        """

    def resolve(self, part: Part) -> str | None:
        """For a part whose send may or may not have arrived: its remote id if the service shows it arrived,
        else None. Only a channel that can look (Slack's history) overrides this; then None means "not there"."""
        return None

    @property
    def resolves(self) -> bool:
        """Whether `resolve` can tell: then an ambiguous part is looked up instead of guessed about."""
        return False

    @abstractmethod
    def check(self) -> str:
        """Verify the credentials without posting; return what was verified, raise DeliveryError if not."""

    def close(self) -> None:  # noqa: B027 — most channels hold nothing to release
        """Release connections."""

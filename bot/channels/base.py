"""The base of every delivery channel: identity and limits as class attributes, parts rendered purely."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from bot.config import Config
from bot.digest import Digest


class Reader(Protocol):
    """Who a reader's part goes to: a Telegram chat id or an email address, and their unsubscribe secret."""

    @property
    def address(self) -> str: ...

    @property
    def token(self) -> str: ...


@dataclass(frozen=True)
class Part:
    """One message of a digest on one channel: `id` is deterministic (a number, or a recipient)."""

    id: str
    payload: Any
    to: str = ""  # a reader's chat or address; empty: the channel's configured destination

    @property
    def hash(self) -> str:
        """A content hash, so the ledger can tell a changed part from the one it sent."""
        return hashlib.sha256(repr(self.payload).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SendHooks:
    """What a channel tells the ledger around each request of one part's send."""

    # Right before a request is written, after every wait: the ledger marks the part pending.
    before_request: Callable[[], None] = lambda: None
    # The service answered "not delivered" (a 429, a 4xx from a mail server, no connection) and the channel
    # waits to retry: the ledger marks the part failed, so a kill during the wait leaves nothing ambiguous.
    refused: Callable[[str], None] = lambda reason: None


NO_HOOKS = SendHooks()


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

    @property
    def has_readers(self) -> bool:
        """Whether readers subscribe to this channel themselves (`bot subscribers`, the Telegram bot)."""
        return False

    def reader_parts(self, digest: Digest, language: str, config: Config) -> Callable[[Reader], list[Part]]:
        """The digest rendered once, as a function giving one reader's parts (channels with readers override)."""
        raise NotImplementedError(f"{self.name} has no readers")

    @abstractmethod
    def send(self, part: Part, hooks: SendHooks = NO_HOOKS) -> str:
        """Deliver one part and return the remote message id; raise DeliveryError on failure.

        `hooks.before_request` runs right before each request is written and `hooks.refused` before each wait
        for a retry, so the part is pending only while a request may be on its way. A failure after the
        request may have reached the service is `DeliveryError(ambiguous=True)`, never retried.
        """

    def resolve(self, part: Part, since: str = "") -> str | None:
        """For a part whose send may or may not have arrived (marked pending at `since`, ISO time): its remote id
        if the service shows it arrived, else None. Only a channel that can look (Slack's history) overrides
        this; then None means "not there"."""
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

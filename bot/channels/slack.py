"""Slack (slack-sdk): Block Kit messages — a header, a section per item — within Slack's limits."""

from __future__ import annotations

import http.client
import socket
import time
from datetime import datetime
from typing import Any

from bot.channels.base import NO_HOOKS, Channel, Part, SendHooks
from bot.commentary import shorten
from bot.config import Config, SlackConfig
from bot.digest import Digest, DigestItem
from bot.errors import DeliveryError
from bot.paper import clean_text
from bot.render import author_list, hashtags

MAX_BLOCKS = 50
METADATA_TYPE = "paper_digest_part"
HISTORY_PAGES = 50  # of 200 messages: how far back a part left pending is looked for
MAX_HEADER = 150
# Slack answers msg_blocks_too_long near 13k characters of block text; stay well under.
MAX_MESSAGE_TEXT = 11_000


def mrkdwn_escape(text: str) -> str:
    """Slack's mrkdwn needs only `&`, `<` and `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section_text(item: DigestItem, max_authors: int, limit: int) -> str:
    """An item as mrkdwn: linked title, authors, commentary, hashtags; the commentary shortened to fit."""
    title = mrkdwn_escape(clean_text(item.title)[:500]).replace("|", "¦")  # `|` would end the link text
    head = f"*<{mrkdwn_escape(item.url)}|{title}>*"  # the link is percent-encoded: no `|` or `>` ends it
    if item.authors:
        head += "\n" + mrkdwn_escape(author_list(item.authors, max_authors))[:500]
    tail = f"\n{hashtags(item.tags)}" if item.tags else ""
    room = limit - len(head) - len(tail) - 1
    commentary = shorten(item.commentary, room)
    return head + (f"\n{mrkdwn_escape(commentary)}" if commentary.strip("…") else "") + tail


class SlackChannel(Channel):
    """A Slack channel through the Web API (`token` + `channel`) or an incoming webhook (`webhook_url`)."""

    name = "slack"
    max_length = 3000  # characters of one section's text

    settings: SlackConfig

    def __init__(self, settings: SlackConfig) -> None:
        if not settings.webhook_url and not (settings.token and settings.channel):
            raise DeliveryError("channels.slack needs either webhook_url or both token and channel")
        super().__init__(settings)

    def parts(self, digest: Digest, language: str, config: Config) -> list[Part]:
        """Messages of at most 50 blocks and ~11k characters; the first starts with the header."""
        label = digest.week.label(language)
        header = {"type": "header", "text": {"type": "plain_text", "text": label[:MAX_HEADER], "emoji": True}}
        messages: list[list[dict[str, Any]]] = [[header]]
        size = len(label)
        for item in digest.items:
            # Escaping can grow text (& → &amp;): leave room so the escaped section stays within the limit.
            text = section_text(item, config.digest.max_authors, self.max_length - 200)
            if len(messages[-1]) >= MAX_BLOCKS or size + len(text) > MAX_MESSAGE_TEXT:
                messages.append([])
                size = 0
            messages[-1].append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            size += len(text)
        # Each Web API post carries metadata naming the digest and the part: a post whose answer was lost can
        # be found again in the channel's history instead of being guessed about.
        return [
            Part(str(i), {"text": _fallback(label, blocks), "blocks": blocks,
                          "metadata": {"event_type": METADATA_TYPE, "event_payload": {"digest": str(digest.week),
                                                                                       "part": str(i)}}})
            for i, blocks in enumerate(messages, 1)
        ]  # fmt: skip

    def check(self) -> str:
        """auth.test for a token; a webhook cannot be checked without posting."""
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        if self.settings.webhook_url:
            return "incoming webhook configured (not checked: the only check is a post)"
        client = WebClient(
            self.settings.token, base_url=self.settings.base_url, timeout=int(self.settings.timeout_seconds)
        )
        try:
            answer = client.auth_test()
        except SlackApiError as error:
            raise DeliveryError(f"auth.test failed: {error.response.get('error')}") from None
        except OSError as error:
            raise DeliveryError(f"cannot reach Slack: {error}") from None
        return f"team {answer.get('team')}, user {answer.get('user')}, channel {self.settings.channel}"

    def send(self, part: Part, hooks: SendHooks = NO_HOOKS) -> str:
        """Post one message; wait out 429s (bounded) and connection failures; never repeat a post that may
        have arrived (a timeout or a dropped connection after the request left)."""
        for attempt in range(self.settings.max_retries + 1):
            hooks.before_request()
            try:
                return self._post(part.payload)
            except _RateLimited as limited:
                if limited.seconds > self.settings.max_retry_after_seconds:
                    raise DeliveryError(f"rate limited for {limited.seconds:g} s (over max_retry_after_seconds): "
                                        "deferred to the next run", deferred=True) from None  # fmt: skip
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"rate limited (retry after {limited.seconds:g} s), gave up") from None
                hooks.refused(f"rate limited, retrying in {limited.seconds:g} s")
                time.sleep(limited.seconds)
            except OSError as error:
                if not _never_sent(error):
                    raise DeliveryError(
                        f"no answer from Slack ({error}); it may have arrived", ambiguous=True
                    ) from None
                if attempt == self.settings.max_retries:
                    raise DeliveryError(f"cannot reach Slack: {error}") from None
                hooks.refused(f"cannot reach Slack ({error}), retrying")
                time.sleep(min(2.0**attempt, 30.0))
        raise AssertionError("unreachable")

    @property
    def resolves(self) -> bool:
        """The Web API can read the channel's history; a webhook cannot."""
        return not self.settings.webhook_url

    def resolve(self, part: Part, since: str = "") -> str | None:
        """The ts of this part's post if the channel's history since `since` (the pending mark's ISO time)
        holds it, read page by page, at most `HISTORY_PAGES` (Web API only)."""
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        if self.settings.webhook_url:
            return None  # a webhook cannot read the channel
        wanted = part.payload["metadata"]["event_payload"]
        client = WebClient(self.settings.token, base_url=self.settings.base_url,
                           timeout=int(self.settings.timeout_seconds))  # fmt: skip
        # A minute before the mark: the part cannot be older, whatever the two clocks say.
        oldest = f"{datetime.fromisoformat(since).timestamp() - 60:.6f}" if since else "0"
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                history = client.conversations_history(channel=self.settings.channel or "", limit=200,
                                                       include_all_metadata=True, oldest=oldest,
                                                       cursor=cursor)  # fmt: skip
            except (SlackApiError, OSError) as error:
                raise DeliveryError(f"cannot read the channel's history to resolve part {part.id}: {error}") from None
            for message in history.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == METADATA_TYPE and metadata.get("event_payload") == wanted:
                    return str(message.get("ts"))
            cursor = (history.get("response_metadata") or {}).get("next_cursor")
            if not history.get("has_more") or not cursor:
                break
        return None

    def _post(self, payload: dict[str, Any]) -> str:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError
        from slack_sdk.webhook import WebhookClient

        timeout = int(self.settings.timeout_seconds)
        if self.settings.webhook_url:
            fields = {key: value for key, value in payload.items() if key != "metadata"}
            # No retry handlers: slack_sdk resends a post whose connection dropped, which may have arrived.
            answer = WebhookClient(self.settings.webhook_url, timeout=timeout, retry_handlers=[]).send(**fields)
            if answer.status_code == 429:
                raise _RateLimited(answer.headers)
            if answer.status_code != 200 or answer.body != "ok":
                raise DeliveryError(f"Slack webhook answered {answer.status_code}: {answer.body[:200]}")
            return "webhook"
        # No retry handlers: slack_sdk's default resends a post whose connection dropped after Slack took it (a
        # duplicate); `send` retries only what never left, and looks up what may have arrived.
        client = WebClient(self.settings.token, base_url=self.settings.base_url, timeout=timeout, retry_handlers=[])
        try:
            result = client.chat_postMessage(channel=self.settings.channel or "", **payload)
        except SlackApiError as error:
            if error.response.status_code == 429:
                raise _RateLimited(error.response.headers) from None
            raise DeliveryError(f"Slack refused the message: {error.response.get('error')}") from None
        return str(result["ts"])


def _never_sent(error: OSError) -> bool:
    """Whether a failure happened before the request could reach Slack (no connection, no name)."""
    reason = getattr(error, "reason", error)  # urllib wraps the socket error in URLError.reason
    return isinstance(reason, ConnectionRefusedError | socket.gaierror) or (
        isinstance(reason, OSError)
        and not isinstance(reason, TimeoutError | ConnectionResetError | http.client.HTTPException)
        and "connect" in str(reason).lower()
    )


class _RateLimited(Exception):
    def __init__(self, headers: Any) -> None:
        retry_after = {str(k).lower(): v for k, v in dict(headers or {}).items()}.get("retry-after", 1)
        self.seconds = float(retry_after[0] if isinstance(retry_after, list) else retry_after)


def _fallback(label: str, blocks: list[dict[str, Any]]) -> str:
    """The notification text: the label and the first line of each section."""
    titles = [b["text"]["text"].split("\n", 1)[0] for b in blocks if b["type"] == "section"]
    return "\n".join([label, *titles])[:3000]

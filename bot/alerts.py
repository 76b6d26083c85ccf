"""Alerts: a short message to an operator when a publish fails or a feed keeps failing.

They go through the configured channels' credentials (`alerts.telegram_chat_id` uses channels.telegram's
token, `alerts.email` uses channels.email's server). An alert that cannot be sent is logged, never raised:
alerting must not break the service.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime

from bot.channels.base import Channel, Part
from bot.config import Config
from bot.errors import BotError

log = logging.getLogger(__name__)


def send_alert(config: Config, text: str) -> int:
    """Send `text` to every configured alert target; return how many received it."""
    from bot.channels.email import EmailChannel
    from bot.channels.telegram import TelegramChannel

    sent = 0
    telegram, email = config.channels.telegram, config.channels.email
    message = f"Paper Feed Bot: {text}"
    targets: list[tuple[Channel, Part]] = []
    if config.alerts.telegram_chat_id and telegram is not None:
        chat = TelegramChannel(telegram.model_copy(update={"chat_id": config.alerts.telegram_chat_id}))
        targets.append((chat, Part("alert", html.escape(message, quote=False))))
    if config.alerts.email and email is not None:
        stamp = datetime.now(UTC).strftime("alert-%Y%m%dT%H%M%S")
        payload = {"to": config.alerts.email, "subject": "Paper Feed Bot alert", "text": message,
                   "html": f"<pre>{html.escape(message)}</pre>", "week": stamp}  # fmt: skip
        targets.append((EmailChannel(email.model_copy(update={"recipients": [config.alerts.email]})),
                        Part(config.alerts.email, payload)))  # fmt: skip
    for channel, part in targets:
        try:
            channel.send(part)
            sent += 1
        except BotError as error:
            log.error("could not send the alert by %s: %s", channel.name, error)
        finally:
            channel.close()
    return sent

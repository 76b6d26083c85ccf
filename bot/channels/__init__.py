"""Delivery channels: one class per service behind `Channel`; the registry below builds the configured ones."""

from __future__ import annotations

from bot.channels.base import Channel, Part
from bot.config import Config


def configured_channels(config: Config, only: str | None = None) -> list[Channel]:
    """The channels set in `config.channels` (or just `only`), in a fixed order."""
    from bot.channels.email import EmailChannel
    from bot.channels.slack import SlackChannel
    from bot.channels.telegram import TelegramChannel

    registry: dict[str, type[Channel]] = {"telegram": TelegramChannel, "slack": SlackChannel, "email": EmailChannel}
    channels = []
    for name, cls in registry.items():
        settings = getattr(config.channels, name)
        if name == "email" and settings is not None and config.service.public_url:
            # `bot run` serves one-click unsubscribe there (bot.web)
            link = f"{config.service.public_url.rstrip('/')}/unsubscribe/{{token}}"
            settings = settings.model_copy(update={"unsubscribe_url": link})
        if settings is not None and only in (None, name):
            channels.append(cls(settings))
    return channels


__all__ = ["Channel", "Part", "configured_channels"]

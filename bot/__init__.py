"""Paper Feed Bot: a weekly paper-feed bot for ML researchers."""

__version__ = "0.1.0"
# Sent with every request the bot makes: arXiv and feed hosts ask clients to say who they are.
USER_AGENT = f"paper-feed-bot/{__version__} (+https://github.com/paper-feed-bot)"

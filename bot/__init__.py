"""Paper Feed Bot: a weekly paper-feed bot for ML researchers."""

__version__ = "0.1.0"

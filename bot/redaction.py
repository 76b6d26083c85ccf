"""One redaction for every line the bot prints: CLI errors, `bot check`, logs.

The config registers its secrets when it is parsed (tokens, passwords, API keys, webhook URLs, and every value
a `${VAR}` brought in from the environment), even when it fails to validate: the error that names a bad value
must not show it. A mail server's AUTH answer may echo the credentials base64-encoded: those forms count too.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable

MIN_LENGTH = 6  # shorter environment values ("UTC", "en", "587") are settings, not secrets worth hiding
MIN_SECRET = 4  # a token or password shorter than this is a placeholder; hiding it would blank out words
_secrets: set[str] = set()
_lock = threading.Lock()


def reset() -> None:
    """Forget every secret (a config being loaded registers its own)."""
    with _lock:
        _secrets.clear()


def register(values: Iterable[str | None], *, short: bool = False) -> None:
    """Hide these values from now on (`short`: a token or password, hidden from MIN_SECRET characters on)."""
    with _lock:
        _secrets.update(v for v in values if v and v.strip() and len(v) >= (MIN_SECRET if short else MIN_LENGTH))


def register_login(username: str | None, password: str | None) -> None:
    """A password, and the base64 forms SMTP AUTH PLAIN / LOGIN send it in."""
    if not password:
        return
    forms = [password, base64.b64encode(password.encode()).decode()]
    if username:
        forms.append(base64.b64encode(f"\0{username}\0{password}".encode()).decode())
    register(forms, short=True)


def redact(text: str) -> str:
    """The text with every registered secret replaced by `***` (longest first, so no part of one survives)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text

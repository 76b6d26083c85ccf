"""The bot's exceptions: one tree, so the CLI can turn any of them into one clear line.

BotError
├── ConfigError          a config file or environment variable is wrong (names the key and the file)
├── WeekError            a `--week` value is not an ISO week such as 2023-W18
├── StoreError           the TinyDB store cannot be used
│   ├── StoreCorruptError    the file is not a valid store; it is left untouched
│   └── StoreLockedError     another bot process holds the store
├── SourceError          a paper source failed
│   ├── ArxivOutageError     arXiv answered nothing usable after every retry (timeouts, 5xx, 429, empty pages)
│   └── UnreachableError     a host cannot be reached at all (name, refused connection, TLS, a 4xx): no retry
└── NotesError           an editor's notes file is wrong (names the file and the line)
"""


class BotError(Exception):
    """Base of every error the bot reports to the user."""


class ConfigError(BotError):
    """A configuration file or value is invalid; `problems` lists each one as `key: what is wrong`."""

    def __init__(self, message: str, problems: list[str] | None = None, source: str = "") -> None:
        super().__init__(message)
        self.problems = problems or [message]
        self.source = source


class WeekError(BotError):
    """A week specification cannot be parsed."""


class StoreError(BotError):
    """The store cannot be opened, read or written."""


class StoreCorruptError(StoreError):
    """The store file is not valid JSON or not a store of a known schema."""


class StoreLockedError(StoreError):
    """Another process holds the store's lock."""


class SourceError(BotError):
    """A paper source failed."""


class ArxivOutageError(SourceError):
    """arXiv returned errors or no papers for a week after all retries."""


class NotesError(BotError):
    """An editor's notes file is invalid."""


class DeliveryError(BotError):
    """A channel failed to deliver a part."""

    def __init__(self, message: str, *, ambiguous: bool = False, gone: bool = False, reader: bool = False,
                 later: bool = False, deferred: bool = False) -> None:  # fmt: skip
        super().__init__(message)
        # The remote side may have received it (a timeout after sending): the ledger keeps it pending.
        self.ambiguous = ambiguous
        # The recipient cannot be reached again (a reader who blocked the bot, a mailbox that does not exist).
        self.gone = gone
        # The service is up and refused this one recipient (a chat not found, an address it will not take):
        # that reader's failure, never a sign that the service is down.
        self.reader = reader or gone
        # ... and only for now (a 450 mailbox busy): asked again once the other readers have theirs.
        self.later = later
        # The service asked to wait longer than the channel's `max_retry_after_seconds`: the rest of the
        # channel waits for the next run instead of holding the other channels.
        self.deferred = deferred


class UnreachableError(SourceError):
    """A source's host cannot be resolved or connected to, fails TLS, or refuses the request: retrying won't help."""

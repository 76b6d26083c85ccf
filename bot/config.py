"""Configuration: YAML validated once at load into typed models, `${ENV}` substituted.

Every key has a default, so a file may set only what it changes. An unknown key or a wrong type is a
ConfigError naming the key path and the file. A `${VAR}` whose variable is unset is kept and recorded;
it is an error only when the key that holds it is used (see `Config.require`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from bot.errors import ConfigError
from bot.redaction import redact, register, register_login, reset
from bot.resources import resource_path

HOUR = 3600.0  # the longest any wait or timeout may be: 1e308 would overflow the libraries that use it
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Language = Literal["ko", "en", "zh"]
# Telegram chat ids are numbers in YAML (-1001234) but text to the Bot API.
ChatId = Annotated[str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestConfig(_Strict):
    language: Language = "ko"
    max_items: int = Field(30, ge=1, le=500)
    per_topic: int = Field(8, ge=1, le=500)  # at most: a section shows only the papers that clear the bar
    min_confidence: float = Field(0.65, ge=0, le=1, description="a section abstains below this topic confidence")
    max_authors: int = Field(0, ge=0, description="0 lists every author; N ends the list with 'et al.'")
    notes_dir: str = "notes"


class ArxivConfig(_Strict):
    api_url: str = "https://export.arxiv.org/api/query"
    categories: list[str] = ["cs.CL", "cs.LG", "cs.CV", "cs.AI"]
    delay_seconds: float = Field(3.0, ge=0, le=HOUR)
    page_size: int = Field(2000, ge=1, le=2000)
    timeout_seconds: float = Field(60.0, gt=0, le=HOUR, description="wall-clock bound for one whole request")
    max_bytes: int = Field(64_000_000, ge=100_000, le=1_000_000_000, description="of one page, gzip undone")
    retries: int = Field(4, ge=0, le=20)
    backoff_seconds: float = Field(10.0, ge=0, le=HOUR, description="first retry wait; doubles on each retry")


class FeedConfig(_Strict):
    name: str
    url: str
    kind: Literal["rss", "hf_daily"] = "rss"
    weight: float = 1.0
    timeout_seconds: float = Field(30.0, gt=0, le=HOUR, description="wall-clock bound for one whole request")
    max_bytes: int = Field(10_000_000, ge=1_000, le=1_000_000_000)
    max_items: int = Field(500, ge=1, le=100_000)


def _default_feeds() -> list[FeedConfig]:
    return [FeedConfig.model_validate(raw) for raw in _packaged_defaults()["sources"]["feeds"]]


class SourcesConfig(_Strict):
    arxiv: ArxivConfig = ArxivConfig()
    feeds: list[FeedConfig] = Field(default_factory=_default_feeds)


class StoreConfig(_Strict):
    path: str = "paperbot.json"
    lock_timeout_seconds: float = Field(10.0, ge=0, le=HOUR)


class TopicConfig(_Strict):
    """One tracked topic: weighted cues (case-insensitive regular expressions, matched on word bounds)."""

    labels: dict[Language, str] = {}
    tags: list[str] = []  # the topic's own hashtags: they bring an item with fewer than two tags up to two
    threshold: float = 4.0
    title_weight: float = 2.0
    abstract_weight: float = 1.0
    abstract_max_mentions: int = Field(1, ge=1, le=10)
    # a cue in a sentence stating the contribution ("we build on a diffusion transformer") counts as this many
    # more abstract mentions: today's generators name their family once, there
    claim_mentions: int = Field(0, ge=0, le=3)
    cues: dict[str, float] = {}
    negative: dict[str, float] = {}
    categories: dict[str, float] = {}
    requires: list[str] = []
    implied_by: list[str] = []
    description: str = ""  # what the topic means, in plain words: what the judge reads
    phrases: list[str] = []  # plain phrases (no regular expressions); each is a cue a title mention makes whole


_RETRY_AFTER = "a longer 429 wait defers the channel to the next run instead of holding the others"


class TelegramConfig(_Strict):
    token: str
    chat_id: ChatId
    base_url: str = "https://api.telegram.org/bot"
    min_interval_seconds: float = Field(1.0, ge=0, le=HOUR)
    max_retries: int = Field(5, ge=0)
    timeout_seconds: float = Field(30.0, gt=0, le=HOUR)
    max_retry_after_seconds: float = Field(300.0, ge=0, le=24 * HOUR, description=_RETRY_AFTER)
    # Readers who message the bot (`bot run`): /start, /topics, /lang, /stop, /last, /help.
    subscriptions: bool = True
    webhook_url: str | None = None  # public https URL Telegram posts updates to; unset: long polling
    webhook_listen: str = Field("127.0.0.1:8443", pattern=r"^[^:]+:\d+$", description="host:port of the webhook")
    subscriber_rate: float = Field(30.0, ge=0, le=1000, description="messages per second to readers (0: no limit)")
    chat_interval_seconds: float = Field(1.0, ge=0, le=HOUR, description="between two messages to one reader")


class SlackConfig(_Strict):
    token: str | None = None
    channel: str | None = None
    webhook_url: str | None = Field(None, pattern=r"^https?://\S+$", description="https://hooks.slack.com/...")
    base_url: str = "https://slack.com/api/"
    max_retries: int = Field(5, ge=0)
    timeout_seconds: float = Field(30.0, gt=0, le=HOUR)
    max_retry_after_seconds: float = Field(300.0, ge=0, le=24 * HOUR, description=_RETRY_AFTER)


class EmailConfig(_Strict):
    host: str
    port: int | None = None
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str
    recipients: list[str] = []
    unsubscribe_url: str | None = Field(None, pattern=r"^https://", description="one-click unsubscribe endpoint")
    smtputf8: bool = Field(False, description="the server offers SMTPUTF8: readers' addresses may be non-ASCII")
    ca_file: str | None = None
    max_retries: int = Field(3, ge=0)
    backoff_seconds: float = Field(5.0, ge=0, le=HOUR)
    timeout_seconds: float = Field(30.0, gt=0, le=HOUR)


class ChannelsConfig(_Strict):
    telegram: TelegramConfig | None = None
    slack: SlackConfig | None = None
    email: EmailConfig | None = None


class AlertsConfig(_Strict):
    """Who is told when a publish fails or a feed keeps failing (through the configured channels' servers)."""

    telegram_chat_id: ChatId | None = None
    email: str | None = None


class DeliveryConfig(_Strict):
    on_ambiguous: Literal["resend", "skip"] = "resend"


class ScheduleEntry(_Strict):
    day_of_week: str = "*"
    hour: int = Field(0, ge=0, le=23)
    minute: int = Field(0, ge=0, le=59)
    timezone: str = "UTC"

    def trigger(self) -> Any:
        """An APScheduler cron trigger for the entry (day names, never crontab numbers)."""
        from zoneinfo import ZoneInfo

        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(day_of_week=self.day_of_week, hour=self.hour, minute=self.minute,
                           timezone=ZoneInfo(self.timezone))  # fmt: skip


class ScheduleConfig(_Strict):
    publish: ScheduleEntry = ScheduleEntry(day_of_week="tue", hour=3)
    collect: ScheduleEntry = ScheduleEntry(day_of_week="*", hour=6)
    retry_seconds: float = Field(1800.0, ge=1, le=6 * HOUR, description="first wait after a failed publish")


class EndpointConfig(_Strict):
    """Any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, llama.cpp server, Ollama)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_seconds: float = Field(60.0, gt=0, le=HOUR, description="wall-clock bound for one whole request")
    max_bytes: int = Field(2_000_000, ge=10_000, le=100_000_000, description="of one answer, gzip undone")
    concurrency: int = Field(4, ge=1, le=64)


class LLMConfig(EndpointConfig):
    """The commentary's endpoint."""

    language: Language | None = None  # default: digest.language
    max_chars: int | None = Field(None, ge=40, le=2000)  # default: commentary.max_chars


class JudgeConfig(EndpointConfig):
    """The judge of the topics' descriptions (`bot.judge`)."""

    floor: float = Field(0.6, gt=0, le=1, description="candidates score at least this share of the threshold")
    per_topic: int | None = Field(None, ge=1, le=500, description="candidates judged per topic; default 3 × per_topic")
    batch_size: int = Field(8, ge=1, le=50)
    max_requests: int = Field(40, ge=1, le=1000)


class SelectionConfig(_Strict):
    judge: JudgeConfig | None = None


class CommentaryConfig(_Strict):
    max_chars: int = Field(280, ge=40, le=2000)
    llm: LLMConfig | None = None


def _default_topics() -> dict[str, TopicConfig]:
    return {name: TopicConfig.model_validate(raw) for name, raw in _packaged_defaults()["topics"].items()}


def _default_tags() -> dict[str, list[str]]:
    tags: dict[str, list[str]] = _packaged_defaults()["tags"]
    return tags


class ArchiveConfig(_Strict):
    """The public archive (`bot archive build`); with `out_dir`, `bot run` rebuilds it after each publish."""

    out_dir: str | None = None
    base_url: str = Field("", description="where the site is served, for absolute links in the Atom feeds")
    title: str = Field("Paper Feed Bot", min_length=1, max_length=200)
    language: Language | None = None  # default: digest.language

    @field_validator("base_url")
    @classmethod
    def _folder_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL, e.g. https://example.org/papers/")
        return value if not value or value.endswith("/") else value + "/"


class ServiceConfig(_Strict):
    """`bot run`'s web endpoints: one-click email unsubscribe (RFC 8058) at `public_url`."""

    public_url: str | None = Field(None, pattern=r"^https://[^\s?#]+$", description="where readers reach bot run")
    listen: str = Field("127.0.0.1:8080", pattern=r"^[^:]+:\d+$", description="host:port, behind your TLS proxy")


class Config(_Strict):
    """The whole validated configuration."""

    digest: DigestConfig = DigestConfig()
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    store: StoreConfig = StoreConfig()
    topics: dict[str, TopicConfig] = Field(default_factory=_default_topics)
    tags: dict[str, list[str]] = Field(default_factory=_default_tags)
    channels: ChannelsConfig = ChannelsConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    alerts: AlertsConfig = AlertsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    commentary: CommentaryConfig = CommentaryConfig()
    selection: SelectionConfig = SelectionConfig()
    archive: ArchiveConfig = ArchiveConfig()
    service: ServiceConfig = ServiceConfig()

    _source: str = PrivateAttr("built-in defaults")

    @property
    def source(self) -> str:
        """Where the configuration came from (a path, or 'built-in defaults')."""
        return self._source


# libyaml's safe loader when PyYAML was built with it: the same documents, parsed ten times faster.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _packaged_defaults() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(resource_path("config.yaml").read_text(encoding="utf-8"), Loader=_SafeLoader)
    return data


SECRET_KEYS = ("token", "password", "api_key", "webhook_url")


MAX_NODES, MAX_DEPTH = 100_000, 30  # a config is small; YAML aliases can make it exponential or recursive


def _substitute(node: Any, path: str, missing: dict[str, str], used: set[str], seen: list[int], depth: int = 0) -> Any:
    """Replace `${VAR}` in every string; record the keys whose variable is unset and the values used.

    An empty value counts as unset for a secret (`TELEGRAM_TOKEN=` is no token). A tree that aliases make
    recursive, too deep or too large ("billion laughs") is a ConfigError, not a hang.
    """
    seen[0] += 1
    if seen[0] > MAX_NODES or depth > MAX_DEPTH:
        raise ConfigError(f"{path or '(top level)'}: the config nests too deep or expands too far (YAML aliases?)")
    if isinstance(node, dict):
        return {k: _substitute(v, f"{path}.{k}" if path else str(k), missing, used, seen, depth + 1)
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_substitute(v, f"{path}.{i}", missing, used, seen, depth + 1) for i, v in enumerate(node)]
    if isinstance(node, str):
        secret = path.rsplit(".", 1)[-1] in SECRET_KEYS
        for match in _ENV_RE.finditer(node):
            value = os.environ.get(match.group(1))
            if value is None or (secret and not value.strip()):
                missing.setdefault(path, f"{match.group(1)} is {'not set' if value is None else 'empty'}")
            elif value:
                used.add(value)
        return _ENV_RE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), node)
    return node


def _register_secrets(data: dict[str, Any], used: set[str]) -> None:
    """Every value under a secret key, and every value the environment brought in, for `bot.redaction` (in place
    of the last config's)."""
    reset()
    register(used)
    register(_secret_values(data), short=True)
    channels = data.get("channels")
    email = channels.get("email") if isinstance(channels, dict) else None
    if isinstance(email, dict) and isinstance(email.get("password"), str):
        register_login(str(email.get("username") or ""), email["password"])


def _secret_values(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secret_values(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _secret_values(v, key)
    elif isinstance(node, str) and key in SECRET_KEYS and not _ENV_RE.search(node):
        yield node


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` (a path of keys and list / mapping positions) accepts."""
    model: Any = Config
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is not None and part in fields:
            model = fields[part].annotation
        # Unwrap X | None, list[X], dict[str, X]: the model inside is what the next part names a key of.
        while not hasattr(model, "model_fields") and getattr(model, "__args__", None):
            model = next((a for a in reversed(model.__args__) if a is not type(None)), None)
    return list(getattr(model, "model_fields", {}))


def _describe(error: dict[str, Any], used: set[str]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(error["loc"][-1]), _known_keys(error["loc"][:-1]), n=1)
        return f"{key}: unknown key" + (f" (did you mean {close[0]}?)" if close else "")
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    got = error.get("input")
    # A value from the environment may be a secret: errors never show it.
    hidden = any(part in SECRET_KEYS for part in map(str, error["loc"])) or any(v in repr(got) for v in used)
    return f"{key}: {error['msg']}" + ("" if hidden else f" (got {got!r})")


def _semantic_problems(config: Config) -> list[str]:
    """What the types cannot say: schedules that build, time zones that exist, regexes that compile."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    problems = []
    defaults = ScheduleConfig()
    for name in ("publish", "collect"):
        entry: ScheduleEntry = getattr(config.schedule, name)
        if entry == getattr(defaults, name):  # the test suite builds these; a digest need not load APScheduler
            continue
        # The zone and the day apart: both wrong is two problems, each named.
        try:
            ZoneInfo(entry.timezone)
        except (ZoneInfoNotFoundError, ValueError, KeyError):
            problems.append(f"schedule.{name}.timezone: {entry.timezone!r} is not a valid timezone")
        try:
            entry.model_copy(update={"timezone": "UTC"}).trigger()
        except (ValueError, KeyError):
            problems.append(f"schedule.{name}.day_of_week: {entry.day_of_week!r} is not a valid day of week "
                            "(mon, tue, ..., sun, ranges like mon-fri, or *)")  # fmt: skip
    for key, pattern in _patterns(config.topics, config.tags):
        if pattern in _packaged_patterns():  # the test suite compiles these; a run need not do it again
            continue
        try:
            re.compile(pattern)
        except re.error as error:
            problems.append(f"{key}: invalid regular expression {pattern!r}: {error}")
            continue
        if _INLINE_FLAGS.search(pattern):  # each alternative is compiled alone, where a global flag is an error
            problems.append(f"{key}: {pattern!r}: inline flags such as (?i) are not supported (cues ignore case)")
    return problems


_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def _patterns(topics: dict[str, TopicConfig], tags: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Every cue, negative cue, requirement and tag pattern, with the key that sets it."""
    patterns = [(f"topics.{name}.{kind}", p) for name, topic in topics.items()
                for kind in ("cues", "negative") for p in getattr(topic, kind)]  # fmt: skip
    patterns += [(f"topics.{name}.requires.{i}", p)
                 for name, topic in topics.items() for i, p in enumerate(topic.requires)]  # fmt: skip
    return patterns + [(f"tags.{tag}.{i}", p) for tag, ps in tags.items() for i, p in enumerate(ps)]


@cache
def _packaged_patterns() -> frozenset[str]:
    """The patterns the packaged config ships."""
    return frozenset(pattern for _, pattern in _patterns(_default_topics(), _default_tags()))


# Keys holding paths: relative ones in a file are relative to that file's folder.
PATH_KEYS = (("store", "path"), ("digest", "notes_dir"), ("channels", "email", "ca_file"), ("archive", "out_dir"))
# Keys holding what the bot writes: with $BOT_STATE_DIR set (the container sets /data, the systemd unit
# /var/lib/paper-feed-bot), relative ones are relative to it, so a config copied unchanged into a read-only
# place still saves where the service may write.
STATE_KEYS = (("store", "path"), ("digest", "notes_dir"), ("archive", "out_dir"))


def _relative_to(data: dict[str, Any], folder: Path) -> None:
    """Make the relative paths a config file sets relative to its folder, or to $BOT_STATE_DIR for what the bot
    writes (in place)."""
    state = os.environ.get("BOT_STATE_DIR")
    for *parents, leaf in PATH_KEYS:
        base = Path(state) if state and (*parents, leaf) in STATE_KEYS else folder
        node: Any = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str) and node[leaf]:
            path = Path(node[leaf]).expanduser()
            node[leaf] = str(path if path.is_absolute() else base / path)


def parse_config(text: str, source: str, folder: Path | None = None) -> Config:
    """Validate YAML text into a Config; `source` names the file in error messages.

    Every problem is found at once and reported as `key: what is wrong` (see ConfigError.problems). With
    `folder`, relative paths the text sets are taken relative to it.
    """
    try:
        raw = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        # The parser notices some mistakes a line late ("[1" unclosed): say where the construct began.
        began = (f" ({exc.context} on line {context.line + 1})"  # type: ignore[attr-defined]
                 if context is not None and mark is not None and context.line != mark.line else "")  # fmt: skip
        raise ConfigError(f"{source}{where}: invalid YAML: {getattr(exc, 'problem', exc)}{began}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, not {type(raw).__name__}")
    missing: dict[str, str] = {}
    used: set[str] = set()
    data = _substitute(raw, "", missing, used, [0])
    _register_secrets(data, used)
    if folder is not None:
        _relative_to(data, folder)
    problems = [f"{key}: environment variable {what}" for key, what in missing.items()]
    config = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        # A key whose variable is unset is already reported; its literal `${VAR}` would only blame the type.
        problems += [_describe(dict(e), used) for e in exc.errors()
                     if ".".join(map(str, e["loc"])) not in missing]  # fmt: skip
    if config is not None:
        problems += [p for p in _semantic_problems(config) if p.split(":", 1)[0] not in missing]
    if problems or config is None:
        problems = [redact(problem) for problem in problems]
        raise ConfigError(f"{'; '.join(problems)} ({source})", problems, source)
    config._source = source
    return config


def find_config_path(explicit: str | None) -> Path | None:
    """`--config`, else `$BOT_CONFIG`, else `./config.yaml`, else None (built-in defaults)."""
    for candidate in (explicit, os.environ.get("BOT_CONFIG")):
        if candidate:
            path = Path(candidate)
            if path.is_dir():
                raise ConfigError(f"{path} is a folder; --config (or $BOT_CONFIG) names a config file")
            if not path.is_file():
                raise ConfigError(f"config file {path} does not exist")
            return path
    local = Path("config.yaml")
    return local if local.is_file() else None


def load_config(explicit: str | None = None) -> Config:
    """Find and load the configuration (see `find_config_path`)."""
    path = find_config_path(explicit)
    if path is None:
        return parse_config("{}", "built-in defaults")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, str(path), path.resolve().parent)

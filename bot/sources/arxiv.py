"""The arXiv API source, through the `arxiv` package, with the guards that package lacks.

The package has no request timeout, retries without backoff and ends silently on an empty first page
(see the library notes). So: one adapter gives every request a timeout, the package's own retries are off
and ours back off and resume at the offset reached, and zero papers for a week is an outage, not a quiet week.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import arxiv
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError

from bot.config import ArxivConfig
from bot.errors import ArxivOutageError, UnreachableError
from bot.paper import ARXIV_SOURCE, Paper, abs_url, arxiv_key, clean_text
from bot.week import Week

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout; requests has no session-wide one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _EmptyPage(Exception):
    """A page that should have had results had none."""


_TRANSIENT = (
    arxiv.HTTPError,
    arxiv.UnexpectedEmptyPageError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    _EmptyPage,
)


def week_query(week: Week, categories: list[str]) -> str:
    """`(cat:A OR cat:B) AND submittedDate:[Monday 0000 TO Sunday 2359]` (GMT)."""
    days = week.days()
    cats = " OR ".join(f"cat:{c}" for c in categories)
    return f"({cats}) AND submittedDate:[{days[0]:%Y%m%d}0000 TO {days[-1]:%Y%m%d}2359]"


def make_client(config: ArxivConfig) -> arxiv.Client:
    """An arxiv.Client pointed at the configured API URL, with request timeouts and no retries of its own."""
    client = arxiv.Client(page_size=config.page_size, delay_seconds=config.delay_seconds, num_retries=0)
    client.query_url_format = config.api_url.rstrip("?") + "?{}"
    adapter = _TimeoutAdapter(config.timeout_seconds)
    # The package keeps its session private; mounting an adapter is the only way to bound its requests.
    client._session.mount("http://", adapter)
    client._session.mount("https://", adapter)
    return client


def to_paper(result: arxiv.Result) -> Paper:
    """A Paper from an arXiv API result (version stripped from the key)."""
    key = arxiv_key(result.get_short_id()) or result.get_short_id()
    return Paper(
        key=key,
        title=clean_text(result.title),
        authors=tuple(clean_text(a.name) for a in result.authors),
        abstract=clean_text(result.summary),
        url=abs_url(key),
        published=result.published,
        categories=tuple(result.categories),
        sources=(ARXIV_SOURCE,),
        comment=clean_text(" ".join(filter(None, (result.comment, result.journal_ref)))),
    )


def permanent_cause(error: BaseException, url: str) -> str | None:
    """Why a request failed for good (no retry can help), or None when it may succeed later.

    Permanent: the host name does not resolve, the connection is refused, TLS fails, or a 4xx other than 429.
    Transient: timeouts, 5xx, 429, dropped connections, empty pages.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or url, parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(error, arxiv.HTTPError):
        if 400 <= error.status < 500 and error.status != 429:
            return f"{url} answered HTTP {error.status}: is this the arXiv API (sources.arxiv.api_url)?"
        return None
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS with {host} failed ({_innermost(error)}): is the clock right, or a proxy in the way?"
    if not isinstance(error, requests.exceptions.ConnectionError):
        return None
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror | NameResolutionError):
            return f"cannot resolve {host} — is the network up?"
        if isinstance(cause, ConnectionRefusedError):
            return f"{host}:{port} refused the connection — is the address right and the server up?"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (`__cause__`, `__context__`, urllib3's `reason`, exception args)."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]


def _innermost(error: BaseException) -> str:
    return str(list(_causes(error))[-1]) or type(error).__name__


def _describe(error: Exception) -> str:
    if isinstance(error, arxiv.HTTPError):
        return f"HTTP {error.status}"
    if isinstance(error, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(error, _EmptyPage | arxiv.UnexpectedEmptyPageError):
        return "empty page"
    return type(error).__name__


def _results(client: arxiv.Client, search: arxiv.Search, config: ArxivConfig) -> Iterator[arxiv.Result]:
    """Every result of a search; failed pages are retried with backoff and resumed at the offset reached.

    The retry budget and the backoff are per page: a page that arrives resets them, so a long week with one
    429 on every page still completes.
    """
    offset, failures = 0, 0
    while True:
        try:
            page_start = offset
            for result in client.results(search, offset=offset):
                offset += 1
                failures = 0
                yield result
            if offset == page_start:
                # The package ends silently on an empty first page: at offset 0 that is zero papers for a
                # week of cs.* (an outage); later, a resumed page that should have had results.
                raise _EmptyPage()
            return
        except _TRANSIENT as error:
            cause = permanent_cause(error, config.api_url)
            if cause is not None:
                raise UnreachableError(f"arXiv: {cause}") from None
            failures += 1
            if failures > config.retries:
                raise ArxivOutageError(
                    f"arXiv API at {config.api_url} failed {failures} times ({_describe(error)}) "
                    f"after {offset} papers — try again later"
                ) from None
            wait = config.backoff_seconds * 2 ** (failures - 1)
            log.warning("arXiv: %s at offset %d; retry %d/%d in %.0f s",
                        _describe(error), offset, failures, config.retries, wait)  # fmt: skip
            time.sleep(wait)


def fetch_week(week: Week, config: ArxivConfig, progress: Progress | None = None) -> list[Paper]:
    """All papers first submitted in the week in the configured categories."""
    client = make_client(config)
    search = arxiv.Search(
        query=week_query(week, config.categories),
        max_results=None,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )
    papers: dict[str, Paper] = {}
    for result in _results(client, search, config):
        paper = to_paper(result)
        papers.setdefault(paper.key, paper)
        if progress is not None:
            progress(len(papers))
    log.info("arXiv: %d papers for %s", len(papers), week)
    return list(papers.values())


def fetch_ids(ids: list[str], config: ArxivConfig) -> list[Paper]:
    """Papers by arXiv id (curated items the week's query did not return), in batches of 200."""
    client = make_client(config)
    papers = []
    for start in range(0, len(ids), 200):
        batch = ids[start : start + 200]
        search = arxiv.Search(id_list=batch, max_results=len(batch))
        papers += [to_paper(result) for result in _results(client, search, config)]
    return papers


def probe(config: ArxivConfig) -> str:
    """One one-result query, no retries: the API answers and returns a paper."""
    client = make_client(config.model_copy(update={"page_size": 1}))
    search = arxiv.Search(query=f"cat:{config.categories[0]}", max_results=1)
    try:
        results = list(client.results(search))
    except _TRANSIENT as error:
        cause = permanent_cause(error, config.api_url)
        raise ArxivOutageError(cause or f"{config.api_url}: {_describe(error)}") from None
    if not results:
        raise ArxivOutageError(f"{config.api_url} answered with no papers for cat:{config.categories[0]}")
    return f"{config.api_url} answered (latest: {results[0].get_short_id()})"

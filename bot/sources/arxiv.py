"""The arXiv API source: paged Atom queries over the standard library's `urllib`, each page read with lxml
straight into Papers.

Why not the `arxiv` package: it builds a `Result` per entry through about nine namespaced lookups, which cost
three times reading the entry in one pass (0.45 s of a 5,000-paper week; the whole digest's budget is 1.5 s),
and the bot already had to do the rest itself — the package has no request timeout, retries without backoff
and ends silently on an empty first page (see the library notes). So each request here has a timeout, failed
pages are retried with backoff and resumed at the offset reached, and zero papers for a week is an outage,
not a quiet week. arXiv's terms are kept: one request every `delay_seconds`, at most 2,000 results a page.

Why `urllib` rather than `requests`: three GETs a week need no session, and importing `requests` (with
`charset_normalizer`, for text we never decode) cost about 0.2 G instructions, 3% of a whole digest. `urllib`
keeps what `requests` gave: the proxy environment variables, certifi's CA bundle, gzip answers.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from lxml import etree

from bot import USER_AGENT
from bot.bounded import Body
from bot.config import ArxivConfig
from bot.errors import ArxivOutageError, UnreachableError
from bot.paper import ARXIV_SOURCE, Paper, abs_url, arxiv_key, clean_text
from bot.week import Week

log = logging.getLogger(__name__)
Progress = Callable[[int], None]

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_TOTAL = "{http://a9.com/-/spec/opensearch/1.1/}totalResults"
_ENTRY, _AUTHOR, _NAME, _CATEGORY = (_ATOM + tag for tag in ("entry", "author", "name", "category"))
_ID, _TITLE, _SUMMARY, _PUBLISHED = (_ATOM + tag for tag in ("id", "title", "summary", "published"))
_COMMENT, _JOURNAL_REF = _ARXIV + "comment", _ARXIV + "journal_ref"
# The entry fields read as text; authors and categories are read apart.
_TEXT_FIELDS = frozenset((_ID, _TITLE, _SUMMARY, _PUBLISHED, _COMMENT, _JOURNAL_REF))


class HTTPStatusError(Exception):
    """The API answered with a status other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _EmptyPage(Exception):
    """A page that should have had results had none."""


# OSError covers urllib's URLError, timeouts, refused and reset connections and TLS; HTTPException a cut answer.
_TRANSIENT = (HTTPStatusError, OSError, http.client.HTTPException, _EmptyPage)


@dataclass(frozen=True)
class Page:
    """One answer of the API: its papers and the query's `totalResults`."""

    papers: list[Paper]
    total: int


def parse_page(content: bytes) -> Page:
    """The papers of one Atom answer (pure). An entry without id or date is skipped; so is a broken document.

    One pass over each entry's children: a lookup per field costs three times as much on a 2,000-entry page.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return Page([], 0)
    total = root.findtext(_TOTAL) or "0"
    papers = [paper for entry in root.iterchildren(_ENTRY) if (paper := _entry_paper(entry))]
    return Page(papers, int(total) if total.strip().isdigit() else 0)


def _entry_paper(entry: Any) -> Paper | None:
    fields: dict[str, str] = {}
    authors: list[str] = []
    categories: list[str] = []
    for child in entry:
        tag = child.tag
        if tag in _TEXT_FIELDS:
            fields[tag] = child.text or ""
        elif tag == _AUTHOR:
            authors += [name.text or "" for name in child.iterchildren(_NAME)]
        elif tag == _CATEGORY and (term := child.get("term")):
            categories.append(term)
    entry_id = fields.get(_ID, "")
    if "/api/errors" in entry_id:  # the API reports a bad query as an entry of a 200 answer
        log.warning("arXiv API error: %s", clean_text(fields.get(_SUMMARY, "")) or entry_id)
        return None
    key = arxiv_key(entry_id)
    published = _utc(fields.get(_PUBLISHED, ""))
    if key is None or published is None:
        log.warning("arXiv: skipped an entry without a usable id or date (%s)", entry_id or "no id")
        return None
    notes = (fields.get(_COMMENT), fields.get(_JOURNAL_REF))
    return Paper(
        key=key,
        title=fields.get(_TITLE, ""),
        authors=tuple(authors),
        abstract=fields.get(_SUMMARY, ""),
        url=abs_url(key),
        published=published,
        categories=tuple(categories),
        sources=(ARXIV_SOURCE,),
        comment=" ".join(filter(None, notes)),
    )


def _utc(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def week_query(week: Week, categories: list[str]) -> str:
    """`(cat:A OR cat:B) AND submittedDate:[Monday 0000 TO Sunday 2359]` (GMT)."""
    days = week.days()
    cats = " OR ".join(f"cat:{c}" for c in categories)
    return f"({cats}) AND submittedDate:[{days[0]:%Y%m%d}0000 TO {days[-1]:%Y%m%d}2359]"


class _Client:
    """The configured API, one request every `delay_seconds` (the first not delayed)."""

    def __init__(self, config: ArxivConfig) -> None:
        self.config = config
        handlers: list[urllib.request.BaseHandler] = []  # the proxy variables (HTTPS_PROXY, NO_PROXY) apply
        if urlsplit(config.api_url).scheme == "https":
            cafile, origin = _ca_bundle()
            try:
                context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as error:
                raise UnreachableError(f"arXiv: cannot read the CA bundle {cafile} ({origin}): {error}") from None
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)
        self.last_request = -float("inf")

    def page(self, query: dict[str, str], start: int, size: int) -> Page:
        """The page of `size` results of a query from `start`; an error status raises `HTTPStatusError`."""
        time.sleep(max(0.0, self.last_request + self.config.delay_seconds - time.monotonic()))
        params = urlencode({**query, "start": str(start), "max_results": str(size)})
        url = self.config.api_url + ("&" if "?" in self.config.api_url else "?") + params
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"})
        try:
            with self.opener.open(request, timeout=self.config.timeout_seconds) as response:
                body = Body("arXiv", self.config.max_bytes, self.config.timeout_seconds,
                            response.headers.get("Content-Encoding", ""))  # fmt: skip
                # read1: what has arrived (read(n) would wait for n bytes, a second per byte of a slow server)
                while chunk := response.read1(65536):
                    body.add(chunk)
        except urllib.error.HTTPError as error:
            error.close()
            raise HTTPStatusError(error.code) from None
        finally:
            self.last_request = time.monotonic()
        return parse_page(body.content())

    def close(self) -> None:
        """Close the opener's handlers (no connection outlives a request)."""
        self.opener.close()


def _ca_bundle() -> tuple[str, str]:
    """The CA certificates to trust and where that choice came from, as `requests` chose them: a bundle the
    environment names, else certifi's (so a system without CA certificates still reaches arxiv.org, and a
    company proxy's CA can be added)."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        if path := os.environ.get(variable):
            return path, f"named by {variable}"
    import certifi  # only for https: the loopback stand-ins speak http

    return str(certifi.where()), "certifi's bundle"


def permanent_cause(error: BaseException, url: str) -> str | None:
    """Why a request failed for good (no retry can help), or None when it may succeed later.

    Permanent: the host name does not resolve, the connection is refused, TLS fails, or a 4xx other than 429.
    Transient: timeouts, 5xx, 429, dropped connections, empty pages.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or url, parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(error, HTTPStatusError):
        if 400 <= error.status < 500 and error.status != 429:
            return f"{url} answered HTTP {error.status}: is this the arXiv API (sources.arxiv.api_url)?"
        return None
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return f"TLS with {host} failed ({_innermost(error)}): is the clock right, or a proxy in the way?"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve {host} — is the network up?"
        if isinstance(cause, ConnectionRefusedError):
            return f"{host}:{port} refused the connection — is the address right and the server up?"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (`__cause__`, `__context__`, urllib's `reason`, exception args)."""
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
    if isinstance(error, HTTPStatusError):
        return str(error)
    if any(isinstance(cause, TimeoutError) for cause in _causes(error)):
        return "timed out"
    if isinstance(error, _EmptyPage):
        return "empty page"
    return type(error).__name__


def _results(client: _Client, query: dict[str, str], limit: int | None = None) -> Iterator[Paper]:
    """Every result of a query (at most `limit`); failed pages are retried with backoff and resumed at the
    offset reached.

    A page without results before `totalResults` is reached is a failure (arXiv sometimes answers one); at
    offset 0 that is zero papers for a week of cs.* (an outage). The retry budget and the backoff are per
    page: a page that arrives resets them, so a long week with one 429 on every page still completes.
    """
    config = client.config
    offset, failures = 0, 0
    while limit is None or offset < limit:
        size = config.page_size if limit is None else min(config.page_size, limit - offset)
        try:
            page = client.page(query, offset, size)
            if not page.papers:
                raise _EmptyPage()
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
            continue
        failures = 0
        yield from page.papers
        offset += len(page.papers)
        if offset >= page.total:
            return


def fetch_week(week: Week, config: ArxivConfig, progress: Progress | None = None) -> list[Paper]:
    """All papers first submitted in the week in the configured categories."""
    query = {"search_query": week_query(week, config.categories), "sortBy": "submittedDate", "sortOrder": "ascending"}
    papers: dict[str, Paper] = {}
    with closing(_Client(config)) as client:
        for paper in _results(client, query):
            papers.setdefault(paper.key, paper)
            if progress is not None:
                progress(len(papers))
    log.info("arXiv: %d papers for %s", len(papers), week)
    return list(papers.values())


def fetch_ids(ids: list[str], config: ArxivConfig) -> list[Paper]:
    """Papers by arXiv id (curated items the week's query did not return), in batches of 200, paced as one
    query's pages are."""
    papers: list[Paper] = []
    with closing(_Client(config)) as client:
        for start in range(0, len(ids), 200):
            batch = ids[start : start + 200]
            papers += _results(client, {"id_list": ",".join(batch)}, limit=len(batch))
    return papers


def probe(config: ArxivConfig) -> str:
    """One one-result query, no retries: the API answers and returns a paper."""
    try:
        with closing(_Client(config)) as client:
            page = client.page({"search_query": f"cat:{config.categories[0]}"}, 0, 1)
    except _TRANSIENT as error:
        cause = permanent_cause(error, config.api_url)
        raise ArxivOutageError(cause or f"{config.api_url}: {_describe(error)}") from None
    if not page.papers:
        raise ArxivOutageError(f"{config.api_url} answered with no papers for cat:{config.categories[0]}")
    return f"{config.api_url} answered (latest: {page.papers[0].key})"

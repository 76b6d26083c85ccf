import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ArxivConfig
from bot.errors import ArxivOutageError, UnreachableError
from bot.paper import arxiv_key, clean_text
from bot.sources.arxiv import fetch_ids, fetch_week, parse_page, probe, week_query
from bot.standin import serve
from bot.week import Week
from tests.standins import ArxivStandIn, Entry, synthetic_week, week_monday

WEEK = Week.parse("2023-W18")


def config(url: str, **overrides: object) -> ArxivConfig:
    fast = {"api_url": url, "delay_seconds": 0, "backoff_seconds": 0, "timeout_seconds": 1, "retries": 2}
    return ArxivConfig.model_validate({**fast, **overrides})


def test_query_covers_monday_to_sunday_in_the_categories() -> None:
    assert week_query(WEEK, ["cs.CL", "cs.LG"]) == (
        "(cat:cs.CL OR cat:cs.LG) AND submittedDate:[202305010000 TO 202305072359]"
    )


def test_pages_until_total_results(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(25, week_monday("2023-W18"))
    papers = fetch_week(WEEK, config(arxiv_api.url, page_size=10))
    assert len(papers) == 25
    assert [r["start"] for r in arxiv_api.requests] == [["0"], ["10"], ["20"]]
    assert arxiv_api.requests[0]["search_query"] == [week_query(WEEK, ArxivConfig().categories)]


def test_paper_fields_from_the_atom_entry(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = [
        Entry("2305.01115", "In-Context Learning\n  Unlocked for Diffusion Models", "We  propose\nX.",
              week_monday("2023-W18") + timedelta(hours=5), ["Zhendong Wang", "Yifan Jiang"], ["cs.CV", "cs.LG"], 3)
    ]  # fmt: skip
    [paper] = fetch_week(WEEK, config(arxiv_api.url))
    assert paper.key == "2305.01115"
    assert paper.url == "https://arxiv.org/abs/2305.01115"
    assert paper.title == "In-Context Learning Unlocked for Diffusion Models"
    assert paper.abstract == "We propose X."
    assert paper.authors == ("Zhendong Wang", "Yifan Jiang")
    assert paper.categories == ("cs.CV", "cs.LG")
    assert paper.published == week_monday("2023-W18") + timedelta(hours=5)


@pytest.mark.parametrize("failure", [503, 429, "hang", "garbled"])
def test_transient_failures_are_retried(arxiv_api: ArxivStandIn, failure: object) -> None:
    arxiv_api.entries = synthetic_week(5, week_monday("2023-W18"))
    arxiv_api.script = [failure]
    assert len(fetch_week(WEEK, config(arxiv_api.url, timeout_seconds=0.5))) == 5
    assert len(arxiv_api.requests) == 2


def test_a_failed_middle_page_resumes_where_it_stopped(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(30, week_monday("2023-W18"))
    arxiv_api.script = [None, 503, "empty"]
    papers = fetch_week(WEEK, config(arxiv_api.url, page_size=10))
    assert len(papers) == 30
    assert [r["start"][0] for r in arxiv_api.requests] == ["0", "10", "10", "10", "20"]


def test_empty_week_is_an_outage_not_a_quiet_week(arxiv_api: ArxivStandIn) -> None:
    with pytest.raises(ArxivOutageError, match=r"failed 3 times.*empty page"):
        fetch_week(WEEK, config(arxiv_api.url))
    assert len(arxiv_api.requests) == 3


def test_persistent_errors_fail_loudly(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.script = [503, 503, 503]
    with pytest.raises(ArxivOutageError, match="HTTP 503"):
        fetch_week(WEEK, config(arxiv_api.url))


def test_a_refused_connection_fails_at_once_naming_the_address() -> None:
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:9 refused the connection"):
        fetch_week(WEEK, config("http://127.0.0.1:9/api/query", retries=3, backoff_seconds=60))


def test_an_unresolvable_host_fails_at_once_with_the_cause() -> None:
    # .invalid never resolves (RFC 2606); with retries a failure would wait 60 s before the next try
    with pytest.raises(UnreachableError, match=r"cannot resolve export\.nothing\.invalid — is the network up\?"):
        fetch_week(WEEK, config("https://export.nothing.invalid/api/query", retries=3, backoff_seconds=60))


@pytest.fixture
def tls_arxiv_api(arxiv_api: ArxivStandIn) -> Iterator[tuple[ArxivStandIn, trustme.CA]]:
    """The arXiv stand-in over TLS, with a certificate from a CA of its own; `.url` is https."""
    ca, context = trustme.CA(), ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    arxiv_api.entries = synthetic_week(5, week_monday("2023-W18"))
    with serve(arxiv_api.handle, tls=context) as base:
        arxiv_api.url = base + "/api/query"
        yield arxiv_api, ca


def test_a_certificate_the_client_does_not_trust_fails_at_once_naming_tls(
    tls_arxiv_api: tuple[ArxivStandIn, trustme.CA],
) -> None:
    arxiv_api, _ = tls_arxiv_api
    with pytest.raises(UnreachableError, match=r"TLS with 127\.0\.0\.1 failed"):
        fetch_week(WEEK, config(arxiv_api.url, retries=3, backoff_seconds=60))


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_ca_bundle_from_the_environment_is_trusted(
    tls_arxiv_api: tuple[ArxivStandIn, trustme.CA], variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As requests did: a company proxy's CA is named in the environment, not in the bot's config.
    arxiv_api, ca = tls_arxiv_api
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv(variable, str(tmp_path / "ca.pem"))
    assert len(fetch_week(WEEK, config(arxiv_api.url))) == 5


def test_a_ca_bundle_that_cannot_be_read_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(UnreachableError, match=r"cannot read the CA bundle .*missing\.pem \(named by REQUESTS_CA_B"):
        fetch_week(WEEK, config("https://export.arxiv.org/api/query"))


def test_answers_come_gzipped_when_the_server_compresses(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries, arxiv_api.gzip = synthetic_week(5, week_monday("2023-W18")), True
    assert len(fetch_week(WEEK, config(arxiv_api.url))) == 5


def test_the_proxy_environment_is_used(arxiv_api: ArxivStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in plays the proxy: it is asked for a host that does not resolve, and answers for it.
    arxiv_api.entries = synthetic_week(5, week_monday("2023-W18"))
    monkeypatch.setenv("http_proxy", arxiv_api.url.removesuffix("/api/query"))
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert len(fetch_week(WEEK, config("http://export.nothing.invalid/api/query"))) == 5


@pytest.mark.parametrize("status", [400, 404, 403])
def test_a_client_error_is_not_retried(arxiv_api: ArxivStandIn, status: int) -> None:
    arxiv_api.script = [status, status]
    with pytest.raises(UnreachableError, match=f"answered HTTP {status}"):
        fetch_week(WEEK, config(arxiv_api.url, retries=3))
    assert len(arxiv_api.requests) == 1


def test_429_and_5xx_are_retried(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(5, week_monday("2023-W18"))
    arxiv_api.script = [429, 503]
    assert len(fetch_week(WEEK, config(arxiv_api.url, retries=3))) == 5
    assert len(arxiv_api.requests) == 3


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2305.01115v2", "2305.01115"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("https://arxiv.org/pdf/2305.01115v3.pdf", "2305.01115"),
        ("http://arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
        ("https://huggingface.co/papers/2410.17243", "2410.17243"),
        ("oai:arXiv.org:2401.00001v1", "2401.00001"),
        ("https://example.org/blog/post", None),
    ],
)
def test_paper_keys(text: str, key: str | None) -> None:
    assert arxiv_key(text) == key


@pytest.mark.parametrize(
    ("text", "clean"),
    [("Diffusion\n  Models", "Diffusion Models"), ("  We propose X. ", "We propose X."), ("a\u00a0b\tc", "a b c"),
     ("Plain title", "Plain title"), ("", "")],
)  # fmt: skip
def test_whitespace_runs_become_one_space(text: str, clean: str) -> None:
    assert clean_text(text) == clean


@given(st.text(alphabet=st.sampled_from(" \n\t\r\u00a0\u2028\u3000\x1c\x85ab.")))
def test_clean_text_is_words_joined_by_one_space(text: str) -> None:
    assert clean_text(text) == " ".join(text.split())


@given(st.text(alphabet=st.characters(exclude_categories=())))  # surrogates and controls included
def test_clean_text_is_always_storable_and_renderable(text: str) -> None:
    import unicodedata

    clean = clean_text(text)
    clean.encode("utf-8")  # a lone surrogate would raise here, and in every store write and channel
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in clean)
    assert not any((ord(c) & 0xFFFE) == 0xFFFE or 0xFDD0 <= ord(c) <= 0xFDEF for c in clean)  # XML's non-characters


def test_the_retry_budget_is_per_page(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(30, week_monday("2023-W18"))
    arxiv_api.script = [429, 429, None, 429, 429, None, 429, 429]  # two failures before every page
    assert len(fetch_week(WEEK, config(arxiv_api.url, page_size=10, retries=2))) == 30


# An answer in the shape of the real API (namespaces, affiliations, comment, journal reference, an old-style id),
# with one entry that has no date and so cannot be placed in a week.
REAL_SHAPE = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <opensearch:totalResults>4213</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <entry>
    <id>http://arxiv.org/abs/2305.14314v1</id>
    <updated>2023-05-23T17:50:33Z</updated>
    <published>2023-05-23T17:50:33Z</published>
    <title>QLoRA: Efficient Finetuning
      of Quantized LLMs &amp; &lt;b&gt;more&lt;/b&gt;</title>
    <summary>  We present QLoRA,
 an efficient finetuning approach.</summary>
    <author><name>Tim Dettmers</name><arxiv:affiliation>University of Washington</arxiv:affiliation></author>
    <author><name>Artidoro  Pagnoni</name></author>
    <arxiv:comment>Extended NeurIPS submission; code at https://github.com/artidoro/qlora</arxiv:comment>
    <arxiv:journal_ref>NeurIPS 2023</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/2305.14314v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category term="cs.LG"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v2</id>
    <published>1999-01-01T00:00:00</published>
    <title>An old-style id</title><summary>Text.</summary>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2305.00009v1</id>
    <title>No date</title><summary>Text.</summary>
  </entry>
</feed>"""


def test_a_page_in_the_real_shape_reads_into_papers(caplog: pytest.LogCaptureFixture) -> None:
    page = parse_page(REAL_SHAPE)
    assert page.total == 4213
    qlora, old = page.papers
    assert qlora.key == "2305.14314"
    assert qlora.title == "QLoRA: Efficient Finetuning of Quantized LLMs & <b>more</b>"
    assert qlora.abstract == "We present QLoRA, an efficient finetuning approach."
    assert qlora.authors == ("Tim Dettmers", "Artidoro Pagnoni")
    assert qlora.categories == ("cs.LG", "cs.CL")
    assert qlora.comment == "Extended NeurIPS submission; code at https://github.com/artidoro/qlora NeurIPS 2023"
    assert qlora.published == datetime(2023, 5, 23, 17, 50, 33, tzinfo=UTC)
    assert (old.key, old.published) == ("hep-th/9901001", datetime(1999, 1, 1, tzinfo=UTC))
    assert "2305.00009v1" in caplog.text


def test_an_api_error_entry_is_reported_not_read_as_a_paper(caplog: pytest.LogCaptureFixture) -> None:
    answer = REAL_SHAPE.split(b"<entry>")[0] + (
        b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_2305.x</id><title>Error</title>"
        b"<summary>incorrect id format for 2305.x</summary><updated>2023-05-23T00:00:00-04:00</updated>"
        b"</entry></feed>"
    )
    assert parse_page(answer).papers == []
    assert "arXiv API error: incorrect id format for 2305.x" in caplog.text


@pytest.mark.parametrize("content", [b"", b"<html><body>Service Unavailable</body></html>", b"<feed><entry>"])
def test_a_broken_answer_is_an_empty_page(content: bytes) -> None:
    assert parse_page(content).papers == []


def test_papers_by_id_are_asked_for_in_batches(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.others = synthetic_week(3, week_monday("2023-W10"))
    papers = fetch_ids([e.id for e in arxiv_api.others], config(arxiv_api.url))
    assert [p.key for p in papers] == [e.id for e in arxiv_api.others]
    assert arxiv_api.requests[0]["id_list"] == [",".join(e.id for e in arxiv_api.others)]


def test_id_batches_keep_arxivs_pace(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.others = synthetic_week(250, week_monday("2023-W10"))
    papers = fetch_ids([e.id for e in arxiv_api.others], config(arxiv_api.url, delay_seconds=0.3))
    assert len(papers) == 250 and len(arxiv_api.requests) == 2  # batches of 200
    assert arxiv_api.arrived[1] - arxiv_api.arrived[0] >= 0.3  # one request every delay_seconds, batches too


def test_the_probe_asks_for_one_paper(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(5, week_monday("2023-W18"))
    assert probe(config(arxiv_api.url)).endswith(f"(latest: {arxiv_api.entries[0].id})")
    assert arxiv_api.requests[0]["max_results"] == ["1"]
    assert arxiv_api.requests[0]["search_query"] == ["cat:cs.CL"]

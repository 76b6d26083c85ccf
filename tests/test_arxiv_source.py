from datetime import timedelta

import pytest

from bot.config import ArxivConfig
from bot.errors import ArxivOutageError, UnreachableError
from bot.paper import arxiv_key
from bot.sources.arxiv import fetch_week, week_query
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


@pytest.mark.parametrize("failure", [503, 429, "hang"])
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


def test_the_retry_budget_is_per_page(arxiv_api: ArxivStandIn) -> None:
    arxiv_api.entries = synthetic_week(30, week_monday("2023-W18"))
    arxiv_api.script = [429, 429, None, 429, 429, None, 429, 429]  # two failures before every page
    assert len(fetch_week(WEEK, config(arxiv_api.url, page_size=10, retries=2))) == 30

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.chat_standins import TelegramStandIn
from tests.standins import ArxivStandIn, synthetic_week, week_monday

REPO = Path(__file__).resolve().parents[1]
WriteConfig = Callable[..., Path]


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_digest_dry_run_prints_the_roundup_and_writes_nothing(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config()
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    result = run("digest", "--week", "2023-W18", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2023년 5월 1주차"
    assert re.fullmatch(r"https://arxiv\.org/abs/2305\.\d{5}", lines[1])
    assert lines[2].endswith("(Ada Lovelace, B. 0)") or "(Ada Lovelace" in lines[2]
    assert not (tmp_path / "store.json").exists()


def test_digest_json_items(arxiv_api: ArxivStandIn, write_config: WriteConfig) -> None:
    write_config()
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    doc = json.loads(run("digest", "--week", "2023-W18", "--dry-run", "--format", "json", "--lang", "en").output)
    assert doc["label"] == "Week 1 of May 2023 (May 1–7)"
    assert len(doc["items"]) == 4  # one topical paper in ten
    assert {t for item in doc["items"] for t in item["topics"]} >= {"diffusion", "mllm", "quantization"}
    assert all(item["commentary"] and item["tags"] for item in doc["items"])


def test_published_papers_are_not_featured_again(arxiv_api: ArxivStandIn, write_config: WriteConfig) -> None:
    write_config()
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W18"))
    first = json.loads(run("digest", "--week", "2023-W18", "--format", "json").output)
    assert len(first["items"]) == 4
    requests = len(arxiv_api.requests)
    again = json.loads(run("digest", "--week", "2023-W18", "--format", "json").output)
    assert again == first  # the frozen digest, not a rebuild
    assert len(arxiv_api.requests) == requests
    # The same papers in the next week's window (say a late v2) are not featured twice.
    arxiv_api.entries = synthetic_week(40, week_monday("2023-W19"))
    for entry, old in zip(arxiv_api.entries, synthetic_week(40, week_monday("2023-W18")), strict=True):
        entry.id = old.id
    nxt = run("digest", "--week", "2023-W19", "--format", "json")
    assert json.loads(nxt.stdout)["items"] == []
    assert nxt.stderr == "2023-W19: empty week: nothing sent\n"


def test_an_empty_week_is_neither_sent_nor_frozen(
    arxiv_api: ArxivStandIn, write_config: WriteConfig, telegram: TelegramStandIn
) -> None:
    arxiv_api.entries = [e for e in synthetic_week(40, week_monday("2023-W18")) if "Part" in e.title]  # off-topic
    write_config(f"channels:\n  telegram: {{token: '123:abc', chat_id: 42, base_url: '{telegram.url}', "
                 "min_interval_seconds: 0}\n")  # fmt: skip
    result = run("digest", "--week", "2023-W18")
    assert result.exit_code == 0
    assert result.output == "2023-W18: empty week: nothing sent\n"
    assert telegram.messages == []
    status = run("status")
    assert "2023-W18" not in status.output  # nothing frozen: a later run may still fill the week


@pytest.mark.parametrize("week", ["2099-W01", "current"])
def test_unfinished_and_future_weeks_are_refused(write_config: WriteConfig, arxiv_api: ArxivStandIn, week: str) -> None:
    from datetime import UTC, datetime

    from bot.week import Week

    write_config()
    target = str(Week.containing(datetime.now(UTC))) if week == "current" else week
    result = CliRunner().invoke(cli, ["digest", "--week", target, "--dry-run"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: week {target} has not ")
    assert "the last finished week is" in result.output
    assert arxiv_api.requests == []


def test_arxiv_outage_is_one_line_and_non_zero(arxiv_api: ArxivStandIn, write_config: WriteConfig) -> None:
    write_config()
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--dry-run"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: arXiv API at ")


def test_config_typo_is_one_line(write_config: WriteConfig) -> None:
    path = write_config("digest:\n  langauge: en\n")
    result = CliRunner().invoke(cli, ["digest", "--dry-run"])
    assert result.exit_code == 1
    assert result.output == f"Error: digest.langauge: unknown key (did you mean language?) ({path})\n"


def test_bad_week_is_one_line(write_config: WriteConfig) -> None:
    write_config()
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-18"])
    assert result.exit_code == 1
    assert "expected an ISO week such as 2023-W18" in result.output


def test_classify_passes_fields_through_in_order(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config()
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "title": "Latent Diffusion Models", "abstract": "We propose a diffusion model."}\n'
        '{"id": 2, "title": "Graph coloring"}\n',
        encoding="utf-8",
    )
    out = [json.loads(line) for line in run("classify", str(source)).output.splitlines()]
    assert [o["id"] for o in out] == [1, 2]
    assert out[0]["topics"] == ["diffusion"]
    assert out[0]["scores"]["diffusion"] >= 4
    assert out[1]["topics"] == [] and out[1]["tags"] == []


def test_classify_explain_and_bad_lines(write_config: WriteConfig) -> None:
    write_config()
    result = CliRunner().invoke(cli, ["classify", "--explain"], input='{"title": "Latent Diffusion Models"}\n')
    hits = [h for h in json.loads(result.output)["explain"] if h["topic"] == "diffusion"]
    # "Latent Diffusion Models" is one mention: the strongest covering cue counts, once.
    assert [(h["kind"], h["where"], h["points"]) for h in hits] == [("cue", "title", 8.0)]
    assert "latent diffusion" in hits[0]["pattern"]
    bad = CliRunner().invoke(cli, ["classify"], input='{"title": "ok"}\nnot json\n')
    assert bad.exit_code == 1
    assert "<stdin> line 2: invalid JSON" in bad.output


def commands() -> list[str]:
    """Every command, a group's subcommands as `group sub`."""
    names = []
    for name, command in cli.commands.items():
        subcommands = getattr(command, "commands", {})
        names += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    return sorted(names)


@pytest.mark.parametrize("name", commands())
def test_every_command_has_help_with_an_example_and_is_documented(name: str) -> None:
    result = run(*name.split(), "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"bot {name}" in readme


def test_help_is_fast_to_import() -> None:
    # `bot --help` must not import the heavy libraries (arxiv, jinja2, tinydb, telegram, ...).
    code = "import sys, bot.cli; print(sorted(m for m in ('arxiv','jinja2','tinydb','pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged_with_v(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # An injected failure: any bug must end as one line, never a traceback.
    monkeypatch.setattr("bot.pipeline.publish", broken)
    result = CliRunner().invoke(cli, ["digest", "--week", "2023-W18", "--dry-run"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: internal error in digest: RuntimeError: disk on fire; rerun with -v for details"
    )
    assert "Traceback" not in result.output
    verbose = subprocess.run(
        [sys.executable, "-c", "import sys, bot.pipeline as p; "
         "p.publish = lambda *a, **k: (_ for _ in ()).throw(RuntimeError('disk on fire')); "
         "from bot.cli import main; sys.argv = ['bot', '-v', 'digest', '--week', '2023-W18', '--dry-run']; main()"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "RuntimeError: disk on fire" in verbose.stderr
    assert verbose.stderr.strip().endswith("rerun with -v for details")


@pytest.mark.parametrize(
    ("args", "words"),
    [(["digest", "--week", "2023-W18", "--dry-run"], "printed nothing"),
     (["digest", "--week", "2023-W18", "--explain"], "printed nothing"),
     (["notes", "--week", "2023-W18"], "wrote no draft")],
)  # fmt: skip
def test_offline_the_first_command_fails_at_once_with_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(
        "sources:\n  arxiv: {api_url: 'https://export.arxiv.invalid/api/query', backoff_seconds: 10}\n  feeds: []\n"
    )
    started = time.monotonic()
    result = CliRunner().invoke(cli, args)
    assert time.monotonic() - started < 5  # no retry: the first backoff alone is 10 s
    assert result.exit_code == 1
    assert result.output == (f"Error: arXiv: cannot resolve export.arxiv.invalid — is the network up?; {words}\n")
    assert not (tmp_path / "notes").exists()


def test_classify_reads_files_with_one_line_errors(tmp_path: Path, write_config: WriteConfig) -> None:
    write_config()
    missing = CliRunner().invoke(cli, ["classify", str(tmp_path / "missing.jsonl")])
    assert (missing.exit_code, missing.output) == (
        1,
        f"Error: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory\n",
    )
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"title": "Caf\xe9"}\n'.encode("latin-1"))
    bad = CliRunner().invoke(cli, ["classify", str(latin)])
    assert bad.exit_code == 1 and bad.output.startswith(f"Error: {latin} is not UTF-8 text")


def test_status_before_the_first_run_and_its_bounds(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config()
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0
    assert f"no store yet ({tmp_path / 'store.json'})" in result.output
    assert not (tmp_path / "store.json").exists()
    for weeks in ("0", "-1"):
        assert CliRunner().invoke(cli, ["status", "--weeks", weeks]).exit_code == 2


def test_demo_prints_the_recorded_week_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # arXiv and the feeds point nowhere reachable: the demo must not need them, nor touch the user's store.
    (tmp_path / "config.yaml").write_text(
        "sources:\n  arxiv: {api_url: 'https://export.arxiv.invalid/api/query'}\n"
        "  feeds: [{name: HF, url: 'https://hf.invalid/api/daily_papers', kind: hf_daily}]\n"
        f"store: {{path: {tmp_path / 'mine.json'}}}\n"
    )
    result = CliRunner().invoke(cli, ["demo", "--format", "json", "--lang", "en"])
    assert result.exit_code == 0, result.output
    digest = json.loads(result.stdout)
    assert digest["week"] == "2023-W20" and digest["label"] == "Week 3 of May 2023 (May 15–21)"
    assert 5 <= len(digest["items"]) <= 30
    assert all(item["topics"] and item["commentary"] and item["url"].startswith("https://arxiv.org/abs/2305.")
               for item in digest["items"])  # fmt: skip
    assert not (tmp_path / "mine.json").exists()


def test_the_readme_example_is_what_the_demo_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The README shows the start of `bot demo --lang ko` with the packaged defaults: it must stay true.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--lang", "ko"])
    assert result.exit_code == 0, result.output
    start = "\n".join(result.stdout.splitlines()[:9])
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"```\n{start}\n```" in readme

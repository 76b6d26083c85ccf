from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config, ScheduleConfig, load_config, parse_config
from bot.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_empty_file_gives_every_default() -> None:
    config = parse_config("", "x.yaml")
    assert config.digest.language == "ko"
    assert config.sources.arxiv.api_url == "https://export.arxiv.org/api/query"
    assert config.sources.arxiv.page_size == 2000
    assert config.sources.arxiv.delay_seconds == 3
    assert list(config.topics) == ["llm-efficiency", "diffusion", "mllm", "quantization"]


def test_repository_config_is_the_built_in_default() -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    assert parse_config(text, "config.yaml").model_dump() == Config().model_dump()


def test_relative_paths_in_a_file_are_relative_to_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "bot.yaml").write_text("store: {path: data/paperbot.json}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(str(folder / "bot.yaml"))
    assert config.store.path == str(folder / "data" / "paperbot.json")
    assert config.digest.notes_dir == "notes"  # a built-in default: relative to the working directory
    (folder / "abs.yaml").write_text(f"store: {{path: {tmp_path / 'x.json'}}}\ndigest: {{notes_dir: n}}\n")
    config = load_config(str(folder / "abs.yaml"))
    assert (config.store.path, config.digest.notes_dir) == (str(tmp_path / "x.json"), str(folder / "n"))


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(str(tmp_path))


def test_yaml_errors_name_where_the_construct_began() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml line 4: invalid YAML: .* on line 3\)"):
        parse_config("digest:\n  language: en\n  max_items: [1\nstore: x\n", "c.yaml")


def test_a_file_may_set_a_few_keys() -> None:
    config = parse_config("digest:\n  max_items: 12\nsources:\n  feeds:\n    - {name: blog, url: http://x}\n", "c")
    assert config.digest.max_items == 12
    assert config.digest.per_topic == 8
    assert config.sources.feeds[0].kind == "rss"


def test_unknown_key_names_the_key_path_and_the_file() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("digest:\n  max_itmes: 3\n", "/etc/bot/config.yaml")
    assert "digest.max_itmes: unknown key" in str(error.value)
    assert "/etc/bot/config.yaml" in str(error.value)


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sources\.arxiv\.page_size.*'many'.*c\.yaml"):
        parse_config("sources:\n  arxiv:\n    page_size: many\n", "c.yaml")


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml line 2: invalid YAML"):
        parse_config("digest:\n\tlanguage: ko\n", "c.yaml")


def test_env_is_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", "123:abc")
    config = parse_config("channels:\n  telegram: {token: '${TG_TOKEN}', chat_id: 42}\n", "c")
    assert config.channels.telegram is not None
    assert config.channels.telegram.token == "123:abc"
    assert config.channels.telegram.chat_id == "42"


def test_an_unset_variable_anywhere_is_an_error_naming_it_and_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORE_DIR", raising=False)
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    text = "store:\n  path: ${STORE_DIR}/paperbot.json\n  lock_timeout_seconds: ${STORE_DIR}\n"
    with pytest.raises(ConfigError) as error:
        parse_config(text + "channels:\n  telegram: {token: '${NOPE_TOKEN}', chat_id: 1}\n", "c.yaml")
    assert error.value.problems == [
        "store.path: environment variable STORE_DIR is not set",
        "store.lock_timeout_seconds: environment variable STORE_DIR is not set",  # not a type error
        "channels.telegram.token: environment variable NOPE_TOKEN is not set",
    ]
    assert str(error.value).endswith("(c.yaml)")


def test_an_empty_secret_is_an_error_that_says_it_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_TOKEN", "")
    with pytest.raises(ConfigError, match=r"channels\.telegram\.token: environment variable EMPTY_TOKEN is empty"):
        parse_config("channels:\n  telegram: {token: '${EMPTY_TOKEN}', chat_id: 1}\n", "c.yaml")


def test_a_mistyped_key_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("store: {pth: x.json}\nchannels:\n  telegram: {token: t, chat_id: 1, min_intervall_seconds: 1}\n"
                     "topics:\n  t: {tresh: 1}\n", "c.yaml")  # fmt: skip
    assert set(error.value.problems) == {
        "store.pth: unknown key (did you mean path?)",
        "channels.telegram.min_intervall_seconds: unknown key (did you mean min_interval_seconds?)",
        "topics.t.tresh: unknown key (did you mean threshold?)",
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [("schedule:\n  publish: {day_of_week: tusday}\n", "schedule.publish.day_of_week: 'tusday' is not a valid"),
     ("schedule:\n  collect: {timezone: Mars/Olympus}\n", "schedule.collect.timezone: 'Mars/Olympus' is not a valid"),
     ("topics:\n  t: {cues: {'(unclosed': 1}}\n", "topics.t.cues: invalid regular expression '(unclosed'"),
     ("topics:\n  t: {requires: ['[a-']}\n", "topics.t.requires.0: invalid regular expression '[a-'"),
     ("tags:\n  x: ['*star']\n", "tags.x.0: invalid regular expression '*star'"),
     # valid alone, an error once the cue's alternatives are compiled one by one
     ("topics:\n  t: {cues: {'(?i)vae|gan': 1}}\n", "topics.t.cues: '(?i)vae|gan': inline flags")],
)  # fmt: skip
def test_what_would_crash_later_fails_at_load(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "c.yaml")
    assert [p for p in error.value.problems if p.startswith(problem)]


def test_the_default_schedule_builds() -> None:
    # Loading a config builds only schedules the user changed (APScheduler is slow to import); these are checked here.
    schedule, monday = ScheduleConfig(), datetime(2023, 5, 15, tzinfo=UTC)
    assert schedule.publish.trigger().get_next_fire_time(None, monday) == datetime(2023, 5, 16, 3, tzinfo=UTC)
    assert schedule.collect.trigger().get_next_fire_time(None, monday) == datetime(2023, 5, 15, 6, tzinfo=UTC)


def test_a_secret_from_the_environment_never_shows_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG", "987654:SECRET-VALUE")
    with pytest.raises(ConfigError) as error:
        parse_config("channels:\n  telegram: '${TG}'\n", "c.yaml")
    assert "SECRET" not in str(error.value)
    assert "channels.telegram: " in str(error.value)


def test_config_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    assert load_config().source == "built-in defaults"
    (tmp_path / "config.yaml").write_text("digest: {language: en}\n")
    assert load_config().digest.language == "en"
    other = tmp_path / "other.yaml"
    other.write_text("digest: {language: zh}\n")
    monkeypatch.setenv("BOT_CONFIG", str(other))
    assert load_config().digest.language == "zh"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    "text",
    [
        # "billion laughs": nine levels of nine aliases expand to 9**9 strings
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)),
        "a: &a [*a]\n",  # a recursive alias
    ],
)
def test_yaml_aliases_cannot_hang_or_crash_a_command(text: str) -> None:
    with pytest.raises(ConfigError, match="nests too deep or expands too far"):
        parse_config(text, "c.yaml")


def test_absurd_durations_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"sources\.arxiv\.timeout_seconds: Input should be less than or equal"):
        parse_config("sources:\n  arxiv: {timeout_seconds: 1e308}\n", "c.yaml")

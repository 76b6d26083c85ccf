"""Secrets never printed; files never written through a symlink nor left writable by others; notes drafts that
cannot smuggle entries; rows a newer version wrote."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from bot.cli import cli
from bot.digest import Digest, freeze_digest
from bot.errors import NotesError
from bot.notes import parse_notes
from bot.render import render_notes
from bot.store import Store
from tests.test_delivery import WEEK, item
from tests.test_email import Mailbox, free_port

WriteConfig = Callable[..., Path]


def test_a_webhook_url_without_its_scheme_is_refused_without_showing_it(write_config: WriteConfig) -> None:
    write_config("channels:\n  slack: {webhook_url: 'hooks.slack.com/services/T0/B0/SECRETPART'}\n")
    for command in (["check", "--no-network"], ["digest", "--dry-run"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1 and "channels.slack.webhook_url" in result.output
        assert "SECRETPART" not in result.output


def test_a_bad_value_from_the_environment_is_named_never_echoed(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZONE_FROM_ENV", "Mars/hunter2")
    monkeypatch.setenv("TAG_FROM_ENV", "(hunter3")
    write_config("schedule:\n  publish: {timezone: '${ZONE_FROM_ENV}'}\ntags:\n  x: ['${TAG_FROM_ENV}']\n")
    for command in (["check", "--no-network"], ["status"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        assert "schedule.publish.timezone" in result.output and "tags.x.0" in result.output
        assert "hunter" not in result.output


def test_bot_check_never_prints_a_mail_servers_echo_of_the_credentials(write_config: WriteConfig) -> None:
    echo = base64.b64encode(b"\0bot\0pa55-word").decode()

    def refuse(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {echo} (pa55-word)")

    port = free_port()
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=port, authenticator=refuse,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        write_config(
            f"channels:\n  email: {{host: 127.0.0.1, port: {port}, security: none, username: bot,"
            " password: pa55-word, sender: bot@example.org, recipients: [a@example.org]}\n"
        )
        result = CliRunner().invoke(cli, ["check"])
    finally:
        controller.stop()
    assert "FAIL email:" in result.output and "535" in result.output
    assert "pa55-word" not in result.output and echo not in result.output


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_files_the_bot_writes_keep_their_modes_whatever_the_umask(write_config: WriteConfig, tmp_path: Path) -> None:
    from bot.archive import build_archive
    from bot.config import load_config

    write_config(f"digest:\n  notes_dir: {tmp_path / 'notes'}\n")
    config = load_config()
    with umask(0), Store(tmp_path / "store.json", service=True) as store:
        freeze_digest(store, Digest(WEEK, (item(1),)))
        store.table("feeds").insert({"name": "x"})  # a second write: the backup exists
        build_archive(store, config, tmp_path / "site", search=False)
    with umask(0):
        assert CliRunner().invoke(cli, ["notes", "--week", str(WEEK)]).exit_code == 0
    private_files = ["store.json", "store.json.bak", "store.json.version", "store.json.lock", "store.json.service.lock",
                     "store.json.service.lock.pid", "notes/2023-W18.yaml"]  # fmt: skip
    for private in private_files:
        assert mode(tmp_path / private) == 0o600, private
    site = list((tmp_path / "site").rglob("*"))
    assert site and all(mode(p) == (0o755 if p.is_dir() else 0o644) for p in site)


def test_no_file_is_written_through_a_symlink_someone_else_put_there(write_config: WriteConfig, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    (tmp_path / "store.json.service.lock.pid").symlink_to(victim)
    (tmp_path / "store.json.version").symlink_to(victim)
    with Store(tmp_path / "store.json", service=True) as store:
        freeze_digest(store, Digest(WEEK, (item(1),)))
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (tmp_path / "store.json.service.lock.pid").is_symlink()
    write_config(f"digest:\n  notes_dir: {tmp_path / 'notes'}\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "2023-W18.yaml").symlink_to(tmp_path / "elsewhere.yaml")  # dangling: exists() is False
    result = CliRunner().invoke(cli, ["notes", "--week", str(WEEK)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert not (tmp_path / "elsewhere.yaml").exists()


def test_a_notes_draft_from_a_hostile_feed_carries_no_live_entries() -> None:
    link = "https://blog.example/post"
    evil = replace(item(1), key=link, url=link, title='Post\u2028"2305.99999": {pin: true}',
                   commentary="c\u2028\u0085x: {drop: true}\n- y")  # fmt: skip
    text = render_notes(Digest(WEEK, (evil, item(2))), "en")
    notes = parse_notes(text, "draft.yaml")
    assert set(notes.by_key) == {link, "2305.00002"}  # no "2305.99999", no "- y"
    assert notes.pinned == [link] and notes.dropped == set()  # a link comes back with its own title only
    assert notes.by_key[link].commentary == evil.commentary


def test_a_notes_file_that_aliases_expand_is_refused_at_once() -> None:
    levels = ["&l0 [x, x, x, x, x, x, x, x, x]"] + [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = "2305.00001:\n" + "".join(f"  k{i}: {level}\n" for i, level in enumerate(levels))
    with pytest.raises(NotesError, match="expand too far"):
        parse_notes(bomb, "notes.yaml")


def test_rows_with_fields_a_newer_version_wrote_are_read(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config(f"archive:\n  out_dir: {tmp_path / 'site'}\n")
    with Store(tmp_path / "store.json") as store:
        row = Digest(WEEK, (item(1),)).to_dict()
        row["items"][0]["reading_time"] = 7  # a field this version does not know
        store.table("digests").insert({**row, "edition": 2})
        store.table("subscribers").insert({"kind": "email", "address": "ada@example.org", "topics": ["mllm"],
                                           "language": "en", "active": True, "token": "t", "since": "2023-01-01",
                                           "note": "", "referrer": "a friend"})  # fmt: skip
    for command in (["subscribers", "list"], ["status"], ["archive", "build"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, (command, result.output)
    assert "reading_time" in (tmp_path / "store.json").read_text(encoding="utf-8")  # kept, not dropped

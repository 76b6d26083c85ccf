import json
import os
from pathlib import Path

import pytest

from bot.errors import StoreCorruptError, StoreError, StoreLockedError
from bot.ledger import SENT, Ledger
from bot.store import SCHEMA_VERSION, Q, Store


def test_new_store_records_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "2305.01115", "week": "2023-W18"})
    data = json.loads(path.read_text())
    assert list(data["meta"].values()) == [{"schema": SCHEMA_VERSION}]
    assert list(data["featured"].values()) == [{"key": "2305.01115", "week": "2023-W18"}]


def test_writes_replace_the_file_and_leave_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        inode = path.stat().st_ino
        store.table("featured").insert({"key": "a", "week": "2023-W18"})
        assert path.stat().st_ino != inode  # a new file was renamed over the old one
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []


def test_a_batch_is_one_file_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replaced: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(str(b)), real_replace(a, b)))
    with Store(tmp_path / "s.json") as store:
        replaced.clear()
        with store.batch():
            store.table("featured").insert_multiple({"key": str(i), "week": "2023-W18"} for i in range(50))
            store.table("digests").insert({"week": "2023-W18", "items": []})
    assert replaced == [str(tmp_path / "s.json"), str(tmp_path / "s.json.bak")]  # one write, then its backup


def test_a_second_service_is_refused_with_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path, service=True), pytest.raises(StoreLockedError) as error, Store(path, service=True,
                                                                                   lock_timeout=0.1):  # fmt: skip
        pass
    assert str(path) in str(error.value)
    assert f"pid {os.getpid()}" in str(error.value)


def test_processes_share_the_store_and_see_each_others_writes(tmp_path: Path) -> None:
    # Two Store objects on one file hold separate file locks, as two processes do.
    path = tmp_path / "s.json"
    with Store(path, service=True) as service, Store(path) as operator:
        service.table("subscribers").insert({"kind": "email", "address": "a@x.org", "topics": ["mllm"],
                                             "language": "en", "active": True})  # fmt: skip
        operator.table("subscribers").insert({"kind": "email", "address": "b@x.org", "topics": ["mllm"],
                                              "language": "en", "active": True})  # fmt: skip
        assert [r["address"] for r in service.table("subscribers").all()] == ["a@x.org", "b@x.org"]
        with service.batch():
            service.table("featured").insert({"key": "1", "week": "2023-W18"})
            service.table("subscribers").remove(Q.address == "a@x.org")
        assert [r["address"] for r in operator.table("subscribers").all()] == ["b@x.org"]
        assert operator.table("featured").all() == [{"key": "1", "week": "2023-W18"}]
        ids = {
            operator.table("featured").insert({"key": "2", "week": "2023-W18"}),
            service.table("featured").insert({"key": "3", "week": "2023-W18"}),
        }
        assert len(ids) == 2  # a row id another process took is never reused
        with Store(path, read_only=True) as reader:
            assert len(reader.table("featured").all()) == 3
    with Store(path) as again:
        assert {r["key"] for r in again.table("featured").all()} == {"1", "2", "3"}


def test_one_publish_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with (
        Store(path) as first,
        Store(path, lock_timeout=0.1) as second,
        first.publishing(),
        pytest.raises(StoreLockedError, match=f"a publish is running .* \\(pid {os.getpid()}\\)"),
        second.publishing(),
    ):
        pass


@pytest.mark.parametrize("content", ['{"meta": {"1": {"schema": 1}}, "featured": {', "[1, 2]", "\x00\x01garbage"])
def test_corrupt_store_is_named_and_left_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(StoreCorruptError) as error, Store(path):
        pass
    assert str(path) in str(error.value)
    assert path.read_text() == content


def test_corrupt_store_error_names_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "a", "week": "2023-W18"})
    with Store(path):
        pass  # a good open keeps a backup
    good = path.read_text()
    path.write_text(good[:-5])
    with pytest.raises(StoreCorruptError, match=r"s\.json\.bak"), Store(path):
        pass
    assert json.loads((tmp_path / "s.json.bak").read_text())["featured"]


def test_unknown_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"meta": {"1": {"schema": 99}}}))
    with pytest.raises(StoreCorruptError, match="schema version 99"), Store(path):
        pass


def test_read_only_store_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path, read_only=True) as store:
        assert store.table("featured").all() == []
    assert not path.exists()


def test_the_backup_is_as_private_as_the_store(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "k", "week": "2023-W18"})
    with Store(path):
        pass
    backup = tmp_path / "s.json.bak"
    assert backup.exists() and backup.stat().st_mode & 0o777 == 0o600


def test_a_path_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(StoreError, match=r"cannot create the store's folder .*file/sub"),
        Store(tmp_path / "file" / "sub" / "s.json"),
    ):
        pass


def test_the_backup_follows_every_write(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "a", "week": "2023-W18"})
        assert (tmp_path / "s.json.bak").read_bytes() == path.read_bytes()  # restoring it never resends
        store.table("featured").insert({"key": "b", "week": "2023-W18"})
        assert (tmp_path / "s.json.bak").read_bytes() == path.read_bytes()


def test_a_pending_mark_reaches_the_store_at_once_and_the_backup_with_the_next_write(tmp_path: Path) -> None:
    path, backup = tmp_path / "s.json", tmp_path / "s.json.bak"
    with Store(path) as store:
        ledger = Ledger(store)
        ledger.mark_pending("telegram", "2023-W18", "1", "h")
        assert json.loads(path.read_text())["deliveries"]  # durable before the request goes
        assert not json.loads(backup.read_text()).get("deliveries")  # one atomic write, not two, before it
        ledger.record("telegram", "2023-W18", "1", "h", SENT, remote_id="7")
        assert backup.read_bytes() == path.read_bytes()
        ledger.mark_pending("telegram", "2023-W18", "2", "h")
    assert backup.read_bytes() == path.read_bytes()  # closing the store catches the backup up


def test_a_full_disk_is_one_error_and_the_store_keeps_its_last_good_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "a", "week": "2023-W18"})
        before = path.read_bytes()
        real_replace = os.replace

        def full(a: str, b: str) -> None:  # the operating system's answer on a full disk
            if str(b) == str(path):
                raise OSError(errno.ENOSPC, "No space left on device")
            real_replace(a, b)

        monkeypatch.setattr(os, "replace", full)
        with pytest.raises(StoreError, match=r"cannot write the store .*s\.json: No space left on device"):
            store.table("featured").insert({"key": "b", "week": "2023-W18"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.parametrize(
    ("table", "row", "problem"),
    [("deliveries", {"channel": "telegram", "week": "2023-W18", "part": "1", "status": 7}, "status"),
     ("digests", {"week": "last week", "items": []}, "week"),
     ("featured", {"key": ["x"], "week": "2023-W18"}, "key"),
     ("feeds", {"name": "f", "failures": "many"}, "failures")],
)  # fmt: skip
def test_a_row_of_the_wrong_shape_is_a_clear_corrupt_store(tmp_path: Path, table: str, row: dict[str, object],
                                                           problem: str) -> None:  # fmt: skip
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"meta": {"1": {"schema": SCHEMA_VERSION}}, table: {"1": row}}))
    before = path.read_text()
    with pytest.raises(StoreCorruptError, match=rf"table {table}, row 1: {problem}: .*left untouched"), Store(path):
        pass
    assert path.read_text() == before


def test_a_store_folder_the_bot_cannot_write_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from filelock import FileLock

    def read_only(self: FileLock, *args: object, **kwargs: object) -> None:  # what the OS answers on EROFS
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(FileLock, "acquire", read_only)
    with (
        pytest.raises(StoreError, match=r"cannot lock the store .*s\.json: Read-only file system"),
        Store(tmp_path / "s.json"),
    ):
        pass


def test_a_command_run_as_another_user_than_the_stores_owner_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with Store(path) as store:
        store.table("featured").insert({"key": "1", "week": "2023-W18"})
    try:
        os.chown(path, 65534, 65534)  # as if the service user owned it
    except PermissionError:
        pytest.skip("only root can hand a file to another user")
    before = path.read_bytes()
    refused = r"belongs to \S+: run this command as that user \(sudo -u \S+ bot \.\.\.\)"
    with pytest.raises(StoreError, match=refused), Store(path):
        pass
    assert path.read_bytes() == before and path.stat().st_uid == 65534  # untouched, still theirs
    with Store(path, read_only=True) as reader:  # reading is harmless
        assert len(reader.table("featured").all()) == 1

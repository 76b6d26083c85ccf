"""The TinyDB store: one JSON file holding frozen digests, featured papers and the delivery ledger.

TinyDB rewrites its file in place with no lock. Here the storage writes a temp file, fsyncs it and
`os.replace`s it, so a crash leaves the old or the new file, never a torn one. Processes share the store in
short transactions: each table call and each `Store.batch()` holds a file lock, reads in what another
process wrote since (the file's identity and a version mark beside it say when), and writes at once — so
`bot subscribers add` or a backfill `bot digest` work while `bot run` runs, and each sees the other's writes
at its next call. `bot run` holds a service lock for its life, every publish a publish lock. A corrupt file
is refused, named, and left untouched. TinyDB is not thread-safe: every transaction also holds the store's
thread lock, so `bot run`'s Telegram handlers and its jobs can share it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal

import orjson
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from bot.errors import StoreCorruptError, StoreError, StoreLockedError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TABLES = (
    "meta",
    "digests",
    "featured",
    "deliveries",
    "candidates",
    "feeds",
    "subscribers",
    "roster",
    "commentary",
    "judgements",
)


class AtomicJSONStorage(Storage):
    """TinyDB storage that keeps the data in memory and replaces the file atomically on each flush."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] | None = None
        self._batch_depth = 0
        self._dirty = False
        self.defer_backup = False  # set by `Store.without_backup()`
        self._not_backed_up: bytes | None = None  # the content written last, until the backup has it too
        # told when the data was read in again: another process wrote the file, or a failed write was undone
        self.on_reload: Callable[[], None] = lambda: None
        self._seen: tuple[object, ...] | None = None  # the file's identity when this process last read or wrote it

    def read(self) -> dict[str, Any] | None:
        """The whole database as this process last read or wrote it (see `refresh`)."""
        if self._seen is None:
            self.refresh()
        return self._data

    def refresh(self) -> None:
        """Read the file again if another process wrote it since (its identity and version mark changed)."""
        if self._identity() != self._seen:
            self._reload()

    def _reload(self) -> None:
        self._seen = self._identity()
        self._data = load_json(self.path) if self._seen[0] is not None else None
        self._dirty = False
        self.on_reload()

    def _identity(self) -> tuple[object, ...]:
        """The file's inode, mtime and size, and the version mark its last writer left: both, since a quick
        pair of writes may reuse an inode within one tick of the file system's clock."""
        try:
            stat_ = os.stat(self.path)
        except FileNotFoundError:
            return (None,)
        try:
            mark = self._version_path.read_bytes()
        except OSError:
            mark = b""
        return stat_.st_ino, stat_.st_mtime_ns, stat_.st_size, mark

    @property
    def _version_path(self) -> Path:
        return self.path.with_name(self.path.name + ".version")

    def write(self, data: dict[str, Any]) -> None:
        """Keep the data; write it now unless inside a batch."""
        self._data = data
        self._dirty = True
        if not self._batch_depth:
            self.flush()

    def flush(self) -> None:
        """Write the data to a temp file, fsync, and rename it over the store; then the same for the backup.

        The backup is taken after each successful write, so restoring it never goes back before a send the
        ledger recorded — except a write made with `defer_backup`, which the next write's backup catches up.
        A disk that is full or read-only is a StoreError naming the file; the store on disk keeps its last
        good state.
        """
        if not self._dirty or self._data is None:
            return
        try:
            # orjson: a store of 10,000 readers is ~2.5 MB, rewritten once a batch; json.dumps took 10x as long.
            content = orjson.dumps(self._data, option=orjson.OPT_NON_STR_KEYS)
            _write_atomically(self.path, content)
        except (OSError, orjson.JSONEncodeError) as error:
            # All or nothing in memory as on disk: TinyDB changed `_data` in place before this write, so a row
            # that cannot be written (a lone surrogate, an integer past 64 bits) would stay in the table and
            # fail every later write. Going back to the file's state undoes the whole failed batch.
            self._reload()
            reason = error.strerror if isinstance(error, OSError) else f"a value it cannot hold ({error})"
            raise StoreError(f"cannot write the store {self.path}: {reason or error}; "
                             "it keeps its last good state") from None  # fmt: skip
        self._dirty = False
        self._mark_version()
        self._not_backed_up = content
        if not self.defer_backup:
            self.update_backup()

    def _mark_version(self) -> None:
        # Not fsynced: after a crash the file's own identity still tells the next reader it changed.
        with contextlib.suppress(OSError):  # (then the identity alone tells)
            fd = os.open(self._version_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(8))
        self._seen = self._identity()

    def update_backup(self) -> None:
        """Copy the content written last to the backup file, if the backup does not have it yet."""
        if self._not_backed_up is None:
            return
        backup = self.path.with_name(self.path.name + ".bak")
        try:
            _write_atomically(backup, self._not_backed_up)
        except OSError as error:  # the store itself is written: a stale backup is worth a warning, not a stop
            log.warning("could not update the backup %s: %s", backup, error.strerror or error)
        self._not_backed_up = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the writes made inside into one file write at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
        if not self._batch_depth:
            self.flush()

    def close(self) -> None:
        """Nothing is buffered outside a batch."""


def write_new_file(path: Path, content: bytes) -> None:
    """Create `path` (0600: a umask only takes bits away) with `content`; a FileExistsError if anything is there,
    a symlink included (it is never followed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _write_atomically(path: Path, content: bytes) -> None:
    """Temp file (0600, as mkstemp makes it whatever the umask), fsync, rename over `path`, fsync the folder.

    A new file renamed over the path: a symlink someone put there is replaced, never written through.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Digest(_Row):
    week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    items: list[dict[str, Any]]


class _Featured(_Row):
    key: str
    week: str


class _Delivery(_Row):
    channel: str
    week: str
    part: str
    status: Literal["pending", "sent", "failed"]


class _Candidate(_Row):
    key: str
    feed: str
    seen: str
    paper: dict[str, Any]


class _Feed(_Row):
    name: str
    failures: int = 0


class _Commentary(_Row):
    id: str
    text: str


class _Judgement(_Row):
    id: str
    topic: str
    accept: bool
    reason: str


class _Subscriber(_Row):
    kind: Literal["telegram", "email"]
    address: str
    topics: list[str]
    language: str
    active: bool


class _Roster(_Row):
    channel: str
    week: str
    sent: list[str]
    pending: list[str]
    failed: dict[str, str]


# What the bot reads from each table: a row that does not fit is a corrupt store, said once, at open.
_ROWS: dict[str, type[_Row]] = {"digests": _Digest, "featured": _Featured, "deliveries": _Delivery,
                                "candidates": _Candidate, "feeds": _Feed, "commentary": _Commentary,
                                "subscribers": _Subscriber, "roster": _Roster, "judgements": _Judgement}  # fmt: skip


def _check_rows(data: dict[str, Any], path: Path, hint: str) -> None:
    for table, model in _ROWS.items():
        for row_id, row in data.get(table, {}).items():
            try:
                model.model_validate(row)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "row"
                raise StoreCorruptError(
                    f"store {path} is damaged: table {table}, row {row_id}: {where}: {first['msg']}; "
                    f"it was left untouched: {hint}"
                ) from None


def load_json(path: Path) -> dict[str, Any]:
    """Read a store file, refusing anything that is not a store of a schema this version knows."""
    backup = path.with_name(path.name + ".bak")
    hint = f"restore the backup {backup} or move the file away" if backup.exists() else "move the file away"
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:  # (invalid UTF-8 included)
        raise StoreCorruptError(f"store {path} is corrupt ({exc}); it was left untouched: {hint}") from None
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StoreCorruptError(f"store {path} is not a bot store; it was left untouched: {hint}")
    versions = [doc.get("schema") for doc in data.get("meta", {}).values() if isinstance(doc, dict)]
    if versions and versions[0] != SCHEMA_VERSION:
        raise StoreCorruptError(
            f"store {path} has schema version {versions[0]}, this bot knows {SCHEMA_VERSION}: "
            "upgrade the bot or use another store path"
        )
    _check_rows(data, path, hint)
    return data


class _NamedLock:
    """A lock file, and a pid file beside it naming the holder (for the locks held for long)."""

    def __init__(self, store: Path, suffix: str, what: str, *, pid: bool) -> None:
        self.lock = FileLock(str(store) + suffix, mode=0o600)
        self.store, self.what, self.pid = store, what, pid

    def acquire(self, timeout: float) -> None:
        """Take the lock within `timeout` seconds, or a StoreLockedError naming the holder."""
        try:
            self.lock.acquire(timeout=timeout)
            if self.pid:
                _write_atomically(Path(self.lock.lock_file + ".pid"), f"pid {os.getpid()}".encode())
        except Timeout:
            raise StoreLockedError(self.what.replace("{holder}", self.holder())) from None
        except OSError as error:  # a read-only or full file system, or a folder the bot may not write
            self.release()
            raise StoreError(f"cannot lock the store {self.store}: {error.strerror or error}") from None

    def holder(self) -> str:
        """`pid N` of the process holding the lock, as it wrote it."""
        try:
            return Path(self.lock.lock_file + ".pid").read_text(encoding="utf-8").strip() or "unknown pid"
        except OSError:
            return "unknown pid"

    def release(self) -> None:
        """Let it go, if held."""
        if self.lock.is_locked:
            self.lock.release()


class Store:
    """The bot's database: enter it (`with Store(path) as store`) to use it.

    Several processes share a store: each table call and each `batch()` is a short transaction that holds the
    store's lock, reads in what another process wrote since, and writes its changes at once. `bot run` also
    holds a service lock for its life (one service per store), and every publish holds a publish lock (a week
    is never delivered by two processes at once).
    """

    def __init__(self, path: str | Path, *, lock_timeout: float = 10.0, read_only: bool = False,
                 service: bool = False) -> None:  # fmt: skip
        self.path = Path(path)
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self.service = service
        self._lock = _NamedLock(self.path, ".lock", f"store {self.path} is busy: another "
                                "bot process kept it locked past store.lock_timeout_seconds", pid=False)  # fmt: skip
        self._service_lock = _NamedLock(self.path, ".service.lock",
                                        f"store {self.path} is in use by another bot process ({{holder}}); "
                                        "wait for it to finish or stop it", pid=True)  # fmt: skip
        self._publish_lock = _NamedLock(self.path, ".publish.lock",
                                        f"a publish is running on store {self.path} in another bot process "
                                        "({holder}); wait for it to finish", pid=True)  # fmt: skip
        self._depth = 0  # transactions open in this process (they nest)
        self._storage: AtomicJSONStorage | None = None
        self.db: TinyDB | None = None
        self.mutex = threading.RLock()  # one thread at a time inside TinyDB (see the module docstring)
        # writes per table, this process's and those read in from another: a reader of a table can tell it changed
        self.changes: dict[str, int] = dict.fromkeys(TABLES, 0)

    def __enter__(self) -> Store:
        if not self.read_only:
            self._refuse_another_owner()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the store's folder {self.path.parent}: {error.strerror}") from None
        if self.service:
            self._service_lock.acquire(self.lock_timeout)
        try:
            self.db = TinyDB(str(self.path), storage=_StorageFactory(self))
            if not self.read_only:
                self._init()
            else:
                with self.transaction():  # reads the file (and refuses a corrupt one) now, not at the first call
                    pass
        except BaseException:
            self._service_lock.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._storage is not None and not self.read_only:
                with self.transaction():
                    self._storage.update_backup()
        finally:
            self._service_lock.release()

    def _refuse_another_owner(self) -> None:
        """A write by another user (root included) would leave files the service cannot write: refuse it."""
        try:
            owner = self.path.stat().st_uid
        except OSError:
            return
        if owner != os.geteuid():
            import pwd

            try:
                name = pwd.getpwuid(owner).pw_name
            except KeyError:
                name = str(owner)
            raise StoreError(f"store {self.path} belongs to {name}: run this command as that user "
                             f"(sudo -u {name} bot ...) so the service can still write it")  # fmt: skip

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store (this thread and the lock file) and read in what other processes wrote since; nested
        calls join the outer one. Read-only stores only read in."""
        assert self._storage is not None
        with self.mutex:
            outer = self._depth == 0
            if outer and not self.read_only:
                self._lock.acquire(self.lock_timeout)
            self._depth += 1
            try:
                if outer:
                    self._storage.refresh()
                yield
            finally:
                self._depth -= 1
                if outer:
                    self._lock.release()

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Hold the publish lock: one publish at a time per store, across processes."""
        self._publish_lock.acquire(self.lock_timeout)
        try:
            yield
        finally:
            self._publish_lock.release()

    def _init(self) -> None:
        if not self.table("meta").all():
            self.table("meta").insert({"schema": SCHEMA_VERSION})

    def table(self, name: str) -> Any:
        """One TinyDB table of the store; each of its calls holds the store's lock."""
        if self.db is None:
            raise StoreError(f"store {self.path} is not open")
        if name not in TABLES:
            raise StoreError(f"unknown store table {name!r}")
        assert self._storage is not None
        return _LockedTable(self.db.table(name), self.transaction, self._storage.batch, partial(self._changed, name))

    def _changed(self, name: str) -> None:
        self.changes[name] += 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make all writes inside one atomic file write (other threads wait until it is written)."""
        if self.read_only:
            raise StoreError(f"store {self.path} was opened read-only")
        assert self._storage is not None
        with self.transaction(), self._storage.batch():
            yield

    @contextmanager
    def without_backup(self) -> Iterator[None]:
        """Writes inside reach the store file but not its backup, which the next write (or closing) catches up.

        For the ledger's pending mark: it is written right before a request, and every moment between the two
        is a window in which a crash leaves a part whose fate is unknown. The backup is the second of two
        atomic writes.
        """
        assert self._storage is not None
        with self.mutex:
            self._storage.defer_backup = True
            try:
                yield
            finally:
                self._storage.defer_backup = False

    def _forget_cached(self) -> None:
        # TinyDB caches query results and the next row id per table: after a reverted write, or a write another
        # process made, they may describe rows that are gone (or reuse an id another process took). Any table
        # may have changed: each change count moves, so a reader of `changes` (delivery's view of its readers)
        # sees another process's writes too.
        for name in self.changes:
            self.changes[name] += 1
        if self.db is not None:
            for table in self.db._tables.values():
                table.clear_cache()
                table._next_id = None

    def size_bytes(self) -> int:
        """The file's size on disk (0 before the first write)."""
        return self.path.stat().st_size if self.path.exists() else 0


class _LockedTable:
    """A TinyDB table whose every method call holds a lock (TinyDB itself is not thread-safe) and is one file
    write at most (TinyDB's `upsert` of a new row writes twice: an update that matched nothing, an insert)."""

    _WRITES = frozenset(("insert", "insert_multiple", "upsert", "update", "update_multiple", "remove", "truncate"))

    def __init__(self, table: Any, transaction: Callable[[], AbstractContextManager[None]],
                 batch: Callable[[], AbstractContextManager[None]], changed: Callable[[], None]) -> None:  # fmt: skip
        self._table = table
        self._transaction = transaction
        self._batch = batch
        self._changed = changed

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._table, name)
        if not callable(attribute):
            return attribute
        write = name in self._WRITES

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._transaction(), self._batch():
                if write:
                    self._changed()
                return attribute(*args, **kwargs)

        return locked


class _StorageFactory:
    """TinyDB builds its storage itself; this hands it ours and lets the Store keep a handle on it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, path: str) -> AtomicJSONStorage:
        storage = _ReadOnlyStorage(path) if self.store.read_only else AtomicJSONStorage(path)
        storage.on_reload = self.store._forget_cached
        self.store._storage = storage
        return storage


class _ReadOnlyStorage(AtomicJSONStorage):
    """For dry runs: reads the store, never writes it."""

    def write(self, data: dict[str, Any]) -> None:
        self._data = data


Q = Query()

"""Files written and read safely: the ground floor every part of albench builds on.

One atomic write (`atomic_write_bytes`: temp file, fsync, rename, the umask's file mode;
`atomic_output` for writers that need a path, e.g. a memory map; `save_npy_atomic`), one
regular-file open (`open_regular`: never blocks on a named pipe, refuses devices, directories
and, where asked, symlinks), a file's sha256, and npz reading with sizes checked before anything
is decompressed. Plug-ins (datasets, learners, labels) use these without reaching up into the
engine; the cache (core.engine.cache) names where things live.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


class CorruptRecord(Exception):
    """A cache file could not be read back; it is moved aside and recomputed."""


def _current_umask() -> int:
    # Read, not set-and-restore: os.umask() is process-wide and the dashboard writes from threads.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def check_writable_dir(path: Path, what: str, *, create: bool = True) -> None:
    """Prove a file can be written in `path` (creating it unless `create` is False); PermissionError names `what`.

    With create=False nothing is left behind: the probe goes to the deepest directory that
    exists, so a caller can check several directories before creating any of them.
    """
    path = Path(path)
    try:
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise NotADirectoryError(f"{str(existing)!r} is a file")
        if create:
            path.mkdir(parents=True, exist_ok=True)
            existing = path
        with tempfile.NamedTemporaryFile(prefix=".tmp-probe-", dir=existing):
            pass
    except OSError as exc:
        raise PermissionError(f"{what} {str(path)!r} is not writable ({exc.strerror or exc})") from None


class NotRegularFile(OSError):
    """A path that should be a plain file is a named pipe, a device, a directory or a refused symlink."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        super().__init__(errno.EINVAL, f"{os.fspath(path)} is {kind}, not a regular file", os.fspath(path))
        self.kind = kind

    def __str__(self) -> str:
        return self.strerror


_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], mode: str = "rb", *, follow_symlinks: bool = True,
                 create: bool = False):
    """`path` opened as a file object, only when it is a regular file; NotRegularFile otherwise.

    Opened with O_NONBLOCK and checked with fstat before anything is read, so a named pipe
    planted where a file belongs is refused at once instead of blocking the process (which then
    ignores SIGTERM while inside open()). `mode` is "rb", "r" (text), "a+"/"a+b" (lock files:
    created when `create`) or "wb" (created, truncated once found regular: a log). With
    follow_symlinks=False a symlink is refused too.
    """
    flags = os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if mode.startswith("a"):
        flags |= os.O_RDWR | os.O_APPEND
    elif mode.startswith("w"):
        flags |= os.O_WRONLY  # truncated below, after fstat: a device or pipe is never truncated
    else:
        flags |= os.O_RDONLY
    if create:
        flags |= os.O_CREAT
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        kind = {errno.ELOOP: "a symlink", errno.EISDIR: "a directory",
                errno.ENXIO: "a named pipe"}.get(exc.errno)  # ENXIO: a FIFO opened to write with no reader
        if kind is not None and (exc.errno != errno.ELOOP or not follow_symlinks):
            raise NotRegularFile(path, kind) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, _kind(st.st_mode))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if mode.startswith("w"):
            os.ftruncate(fd, 0)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def read_regular_text(path: str | os.PathLike[str], errors: str = "strict") -> str:
    """The UTF-8 text of a regular file (NotRegularFile for a pipe, device or directory)."""
    with open_regular(path, "rb") as f:
        return f.read().decode("utf-8", errors)


def _temp_in(directory: Path, prefix: str = ".tmp-", suffix: str = "") -> tuple[int, str]:
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600; a shared cache or out/ needs the umask's mode
    return fd, tmp


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str = "") -> Iterator[str]:
    """A temporary path beside `path` (the umask's mode) to write; renamed over `path` when the block ends,
    removed when it raises. For writers that need a path (a memory-mapped .npy); bytes go through
    atomic_write_bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(path.parent, suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """`data` as the content of `path`, whole or not at all: temp file, fsync, rename, the umask's mode."""
    with atomic_output(path) as tmp, open(tmp, "r+b") as f:  # atomic_output fsyncs and renames once f is closed
        f.write(data)


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """One array as an .npy file (no pickle), through atomic_write_bytes."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a regular file's content, read in 1 MiB blocks (NotRegularFile for a pipe or device)."""
    import hashlib

    h = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def _check_npz_sizes(handle, size: int) -> None:
    """CorruptRecord when the zip directory or an array header promises more than the file holds.

    The cache writes npz files stored, not compressed (np.savez): no member can be larger than
    the file, and no array larger than its member. Checked before anything is decompressed or
    allocated, so a small crafted record (a zip bomb, a header claiming 10**12 rows) costs nothing.
    """
    import math

    with zipfile.ZipFile(handle) as z:
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                raise CorruptRecord(f"member {info.filename!r} would expand to {info.file_size} bytes from a file of "
                                    f"{size} (the cache writes uncompressed npz): not a record it wrote")
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as member:
                version = np.lib.format.read_magic(member)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(member)
            if math.prod(int(n) for n in shape) * dtype.itemsize > info.file_size:
                raise CorruptRecord(f"array {info.filename!r} claims shape {shape} of {dtype} in {info.file_size} bytes")
    handle.seek(0)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a cache npz (regular file, sizes checked first, no pickle, each member's CRC checked).

    FileNotFoundError passes through; anything else wrong is CorruptRecord.
    """
    try:
        with open_regular(path) as handle:
            _check_npz_sizes(handle, os.fstat(handle.fileno()).st_size)
            with np.load(handle, allow_pickle=False) as z:
                return {name: z[name] for name in z.files}
    except (CorruptRecord, FileNotFoundError):
        raise
    except NotRegularFile as exc:
        raise CorruptRecord(str(exc)) from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise CorruptRecord(f"{type(exc).__name__}: {exc}") from None

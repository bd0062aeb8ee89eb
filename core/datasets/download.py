"""Fetching and verifying the standard dataset files: checksums first, atomic writes, clear errors.

No network is used except to download a missing file from its canonical source; with
`ALBENCH_OFFLINE=1` (or when the download fails) the loader raises `MissingDataError`
naming the expected files and the directory to put them in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable

from core.datasets.base import DatasetError, MissingDataError  # noqa: E402  (defined there: importable without urllib)

DEFAULT_DATA_ROOT = "data"  # relative to the working directory, like the CLI's default cache/
_CHUNK = 1 << 20

__all__ = ["DatasetError", "MissingDataError", "data_dir_for", "download", "fetch_missing", "verify_md5"]


def data_dir_for(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """The data folder (`data_dir`) when given, otherwise `$ALBENCH_DATA_DIR/<name>` (default `data/<name>`)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return Path(os.environ.get("ALBENCH_DATA_DIR", DEFAULT_DATA_ROOT)).expanduser() / name


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str, *, remedy: str = "") -> None:
    """Raise DatasetError unless `path` has the published checksum; `remedy` says what else the user may do."""
    actual = md5_file(path)
    if actual != expected:
        raise DatasetError(
            f"{path} does not match its published checksum (md5 {actual}, expected {expected}); "
            "the file is truncated, corrupt or a different version: delete it and let it download again, "
            "or replace it with the original file" + (f"; {remedy}" if remedy else "")
        )


def offline() -> bool:
    return os.environ.get("ALBENCH_OFFLINE", "").strip() not in ("", "0", "false", "no")


def _progress(name: str, done: int, total: int | None) -> None:
    if total:
        sys.stderr.write(f"\r  downloading {name}: {done / 2**20:7.1f} / {total / 2**20:.1f} MB ({100 * done / total:5.1f}%)")
    else:
        sys.stderr.write(f"\r  downloading {name}: {done / 2**20:7.1f} MB")
    sys.stderr.flush()


def download(urls: Iterable[str], dest: Path, md5: str, *, timeout: float = 60.0) -> None:
    """Download the first reachable of `urls` to `dest`, verify `md5`, then rename into place.

    The bytes go to a temporary file in `dest`'s directory; only a verified file is renamed
    to `dest`, so an interrupted or corrupt download never looks like a finished one.
    Raises OSError (urllib.error.URLError) when no URL answers, DatasetError on a bad checksum.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                done = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    done += len(chunk)
                    _progress(dest.name, done, total)
                out.flush()
                os.fsync(out.fileno())
            sys.stderr.write("\n")
            verify_md5(Path(tmp), md5)
            os.replace(tmp, dest)
            return
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    raise urllib.error.URLError("; ".join(errors))


def missing_message(name: str, directory: Path, files: Iterable[str], source: str) -> str:
    listed = ", ".join(files)
    return (
        f"{name}: expected files not found in {directory}: {listed}. Download them from {source} and put them "
        f"in {directory} (or choose a data folder (data_dir) holding them); automatic download was not possible here"
    )


def fetch_missing(name: str, directory: Path, files: dict[str, str], mirrors: list[str], source: str) -> None:
    """Download each of `files` (name -> md5) absent from `directory`; offline -> MissingDataError."""
    missing = [f for f in files if not (directory / f).exists()]
    if not missing:
        return
    if offline():
        raise MissingDataError(missing_message(name, directory, missing, source))
    try:
        for filename in missing:
            download([m + filename for m in mirrors], directory / filename, files[filename])
    except OSError as exc:  # URLError, timeouts, an unwritable directory; DatasetError passes through
        raise MissingDataError(f"{missing_message(name, directory, missing, source)} ({exc})") from None

"""Where datasets live on disk, and downloading a file safely.

The data folder is, in order: the ``root`` you pass, the environment variable
``NEURONA_DATA``, or ``./data`` under the current directory.  Each dataset has its own
sub-folder there (``mnist/``, ``fashion-mnist/``).

Downloads go to a temporary file in the destination folder, are checked against the
known checksums, and only then renamed to their final name -- so an interrupted or
corrupted download never leaves a file that looks complete.
"""
from __future__ import annotations

import gzip
import os
import sys
import tempfile
import urllib.error
import zlib
from pathlib import Path
from urllib.request import urlopen

__all__ = ["data_root", "data_search_path", "DatasetFileError", "read_maybe_gzip", "gunzip", "download_file"]


class DatasetFileError(ValueError):
    """A dataset file exists but is not what it should be (truncated, corrupt, wrong kind)."""


def data_root(root=None) -> Path:
    """The folder datasets are read from and downloaded to: ``root`` if given, else
    ``$NEURONA_DATA``, else ``./data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("NEURONA_DATA")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / "data"


def data_search_path(data_dir=None) -> list[Path]:
    """The folders to look for a dataset's files in, first match first: ``[data_dir]``
    when given; else ``$NEURONA_DATA``, ``./data``, ``../shared/data`` (from the current
    directory), then ``data/`` and ``../shared/data`` next to the repository (for a
    source checkout run from elsewhere)."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    dirs = []
    if os.environ.get("NEURONA_DATA"):
        dirs.append(Path(os.environ["NEURONA_DATA"]).expanduser())
    dirs += [Path.cwd() / "data", Path.cwd() / os.pardir / "shared" / "data"]
    repo = Path(__file__).resolve().parents[2]
    dirs += [repo / "data", repo.parent / "shared" / "data"]
    return list(dict.fromkeys(dirs))


def read_maybe_gzip(path) -> bytes:
    """The bytes of ``path``, decompressed when the file is gzip (recognised by its first
    two bytes, whatever its name)."""
    path = Path(path)
    try:
        return gunzip(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFileError(
            f"{path}: the gzip data is corrupt or truncated ({e}). Delete the file and "
            "download or copy it again.") from None


def gunzip(data: bytes) -> bytes:
    """``data`` decompressed when it is gzip (starts with the bytes 1f 8b), else unchanged."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def download_file(filename: str, mirrors, folder, verify=None, timeout: float = 60.0) -> Path:
    """Fetch ``filename`` from the first mirror that serves a good copy, into ``folder``.

    ``mirrors`` are base URLs (ending in ``/``); ``verify(data: bytes)`` returns ``None``
    when the downloaded bytes are right, or a message saying what is wrong (then the next
    mirror is tried).  Returns the path of the saved file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / filename
    problems = []
    for base in mirrors:
        url = base + filename
        print(f"downloading {url} -> {dest}", file=sys.stderr)
        try:
            with urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as e:
            problems.append(f"{url}: {e}")
            continue
        problem = verify(data) if verify is not None else None
        if problem:
            problems.append(f"{url}: {problem}")
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)                    # atomic: a complete file or none
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return dest
    raise RuntimeError(f"could not download {filename}; tried:\n  " + "\n  ".join(problems)
                       + f"\nDownload it by hand and put it in {folder}.")

"""Atomic file and directory replacement: write beside the target, flush to disk, rename over it."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")  # two writers never share one
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: the old file stands, and no partial copy is left beside it
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_dir_atomic(directory: Path, write: Callable[[Path], None]) -> Path:
    """Fill a new directory beside ``directory`` with ``write(tmp)``, make its files durable, then rename it into
    place; a directory already there is replaced only once the new one is complete."""
    tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        for f in tmp.rglob("*"):  # durable before the rename publishes them
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if directory.exists():  # a rename cannot replace a non-empty directory: move it aside first
            old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:  # a full disk: no half-written directory is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory

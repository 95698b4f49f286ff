"""Writing files so that a crash never leaves half of one, and remembering what is already done.

Every output brainage writes goes through :func:`atomic_path`: the data lands in a temporary
file beside the target, which then replaces it in one rename. A reader (or a re-run after
Ctrl-C) sees the old file or the new one, never a torn one.

:class:`DoneRecord` is the "done for this fingerprint" marker of restartable work: a JSON file of
entries keyed by name, each with the fingerprint of what produced it and its output files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # only an annotation here: importing brainage.config (the CLI does) stays free of pandas
    import pandas as pd


def _suffixes(name: str) -> str:
    """The file-type suffix, including double ones such as ``.nii.gz``."""
    for double in (".nii.gz", ".tar.gz"):
        if name.endswith(double):
            return double
    return Path(name).suffix


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path with the same file type as ``path``; on success move it into place.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("hello")
        >>> target.read_text()
        'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = _suffixes(path.name)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    tmp = path.with_name(f"{stem}.tmp{os.getpid()}{suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes: what identifies an input in fingerprints.

    Not its path or modification time: a dataset copied to another disk, or restored from a
    backup, keeps its finished work; a file changed in place (same name) is redone.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = path.write_text("abc")
        >>> file_digest(path)[:12]
        'ba7816bf8f01'
    """
    digest = hashlib.sha256()  # hashlib.file_digest would need Python 3.11; brainage supports 3.10
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, default=str))


def write_csv(table: pd.DataFrame, path: str | Path, **kwargs) -> Path:
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


class DoneRecord:
    """Entries ``name -> {fingerprint, outputs, ...}`` in a JSON file: what is done, and from what.

    An entry counts as done only when its fingerprint matches *and* all its outputs still exist,
    so a changed input or parameter, or an output deleted by hand, redoes the work.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> record = DoneRecord(folder / "steps.json")
        >>> out = folder / "x.txt"
        >>> _ = out.write_text("x")
        >>> record.record("make_x", "abc", [out], seconds=0.1)
        >>> record.is_done("make_x", "abc", [out]), record.is_done("make_x", "other", [out])
        (True, False)
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def is_done(self, name: str, fingerprint: str, outputs: list[Path]) -> bool:
        entry = self.entries.get(name)
        return bool(entry and entry.get("fingerprint") == fingerprint and all(Path(p).exists() for p in outputs))

    def record(self, name: str, fingerprint: str, outputs: list[Path], **info: Any) -> None:
        names = [os.path.relpath(p, self.path.parent) for p in outputs]  # readable; the folder may move
        self.entries[name] = {"fingerprint": fingerprint, "outputs": names, **info}
        write_json(self.path, self.entries)

    def __getitem__(self, name: str) -> dict:
        return self.entries[name]


def safe_name(text: str, fallback: str = "subject") -> str:
    """``text`` with every run of characters other than letters, digits, ``.`` and ``-`` made one
    underscore, for file and subject names (``fallback`` where nothing is left).

    Example:
        >>> safe_name("Patient 7 (T1)"), safe_name("__", "patient")
        ('Patient_7_T1', 'patient')
    """
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]+", "_", text)).strip("_.") or fallback

"""The base of every stage's folder object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Folder:
    """A folder of one stage's outputs; subclasses name its files."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

"""Errors a user can act on.

Every problem with a user's input is raised as :class:`InputError`, whose message names the file
and says what is wrong in one line. Batch stages catch it per subject, record the message as the
exclusion reason and go on with the rest of the cohort.
"""

from __future__ import annotations

from pathlib import Path


class BrainageError(Exception):
    """Base class of every error brainage raises on purpose."""


class InputError(BrainageError):
    """A user-supplied file or value is unusable; the message is one actionable line."""

    def __init__(self, source: str | Path | None, problem: str):
        self.source = str(source) if source is not None else None
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


class StageError(BrainageError):
    """A pipeline stage cannot run (e.g. its input folder is missing)."""

"""Ratings made by people in the web viewer: a SQLite file beside the QC verdicts.

Every rating is a new row (subject, rater, verdict, note, time), committed at once in WAL mode,
so a killed server or browser loses nothing that was saved, and several raters can work at the
same time. The latest rating of a subject is its rater verdict; ``pass`` and ``fail`` then act as
a reviewer override (:func:`apply_ratings`) unless ``qc_overrides.csv`` names the subject (a hand-
edited file wins). ``unsure`` records a doubt and overrides nothing.

Example:
    >>> import tempfile
    >>> store = RatingStore(Path(tempfile.mkdtemp()) / "r.sqlite")
    >>> _ = store.rate("sub-01", "ana", "fail", "skull left in")
    >>> store.latest()[["subject_id", "rater", "verdict"]].values.tolist()
    [['sub-01', 'ana', 'fail']]
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd

from brainage.errors import InputError

RATINGS = ("pass", "fail", "unsure")
COLUMNS = ["subject_id", "rater", "verdict", "note", "rated_at"]


class RatingStore:
    """Append-only ratings in SQLite (WAL); a short-lived connection per call, safe across threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, "
                "rater TEXT NOT NULL, verdict TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', rated_at TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA synchronous=FULL")  # a rating the server acknowledged survives a crash
        return db

    def rate(self, subject_id: str, rater: str, verdict: str, note: str = "") -> dict:
        verdict = str(verdict).strip().lower()
        if verdict not in RATINGS:
            raise InputError(None, f"rating {verdict!r} is not one of {list(RATINGS)}")
        if not str(rater).strip():
            raise InputError(None, "a rating needs the rater's name")
        row = {
            "subject_id": str(subject_id),
            "rater": str(rater).strip(),
            "verdict": verdict,
            "note": str(note or ""),
            "rated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        with self._connect() as db:
            db.execute(
                "INSERT INTO ratings (subject_id, rater, verdict, note, rated_at) VALUES (?, ?, ?, ?, ?)",
                [row[c] for c in COLUMNS],
            )
        return row

    def all(self) -> pd.DataFrame:
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM ratings ORDER BY id").fetchall()
        return pd.DataFrame(rows, columns=COLUMNS)

    def latest(self) -> pd.DataFrame:
        """The most recent rating of each subject (any rater)."""
        table = self.all()
        return table.drop_duplicates("subject_id", keep="last").reset_index(drop=True)


def apply_ratings(verdicts: pd.DataFrame, ratings_path: str | Path) -> pd.DataFrame:
    """``final_verdict`` / ``final_reasons`` with the viewer's pass/fail ratings applied to subjects
    that ``qc_overrides.csv`` does not name."""
    path = Path(ratings_path)
    if not path.is_file():
        return verdicts
    latest = RatingStore(path).latest()
    latest = latest[latest.verdict.isin(["pass", "fail"])].set_index("subject_id")
    out = verdicts.copy()
    free = out.get("override", pd.Series("", index=out.index)).fillna("") == ""
    rated = free & out.subject_id.isin(latest.index)
    ids = out.loc[rated, "subject_id"]
    out.loc[rated, "final_verdict"] = ids.map(latest.verdict).to_numpy()
    out.loc[rated, "final_reasons"] = [
        f"rated {latest.verdict[s]} by {latest.rater[s]} in the viewer"
        + (f": {latest.note[s]}" if latest.note[s] else "")
        for s in ids
    ]
    return out

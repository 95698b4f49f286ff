"""The manifest: one table describing a cohort, shared by every pipeline stage.

Columns (see :data:`COLUMNS`): ``subject_id, site, age, sex, t1_path, included,
exclusion_reason, source``. ``sex`` is ``"F"`` or ``"M"``; ``age`` is in years. Excluded
subjects stay in the table with their reason, so every stage can report what it left out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from brainage.data.images import check_t1_file
from brainage.errors import InputError
from brainage.progress import track

COLUMNS = ["subject_id", "site", "age", "sex", "t1_path", "included", "exclusion_reason", "source"]

_SEX_WORDS = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


def parse_sex(value, codes: dict | None = None, source: str | None = None) -> str:
    """Normalise a sex label to ``"F"``/``"M"``; ``codes`` maps dataset-specific codes (IXI: 1=m, 2=f)."""
    if codes is not None:
        for code, label in codes.items():
            try:
                if float(value) == float(code):
                    return label
            except (TypeError, ValueError):
                break
    text = str(value).strip().lower()
    if text in _SEX_WORDS:
        return _SEX_WORDS[text]
    allowed = sorted(set(_SEX_WORDS) | {str(c) for c in (codes or {})})
    raise InputError(source, f"unknown sex code {value!r} (expected one of {allowed})")


def parse_age(value, source: str | None = None) -> float:
    """Age in years as a float, or :class:`InputError` for missing, non-numeric or absurd values."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() in ("", "n/a", "NA", "nan"):
        raise InputError(source, "age is missing")
    try:
        age = float(value)
    except (TypeError, ValueError):
        raise InputError(source, f"age {value!r} is not a number") from None
    if not 0 <= age <= 120:
        raise InputError(source, f"age {age:g} is outside 0-120 years")
    return age


def make_manifest(records: Iterable[dict]) -> pd.DataFrame:
    """Build a manifest from dicts holding (a subset of) :data:`COLUMNS`, filling defaults."""
    df = pd.DataFrame(list(records), columns=COLUMNS)
    df["included"] = df["included"].fillna(True).astype(bool)
    df["exclusion_reason"] = df["exclusion_reason"].fillna("").astype(str)
    df["site"] = df["site"].fillna("unknown").astype(str)
    df["age"] = pd.to_numeric(df["age"], errors="coerce")
    return df.sort_values("subject_id", kind="stable").reset_index(drop=True)


def exclude(df: pd.DataFrame, mask, reason: str | pd.Series) -> pd.DataFrame:
    """Mark rows in ``mask`` excluded, keeping an earlier reason if there is one."""
    df = df.copy()
    mask = pd.Series(mask, index=df.index).fillna(False).astype(bool)
    reasons = reason if isinstance(reason, pd.Series) else pd.Series(reason, index=df.index)
    fresh = mask & df["included"]
    df.loc[fresh, "exclusion_reason"] = reasons[fresh]
    df.loc[mask, "included"] = False
    return df


def check_images(df: pd.DataFrame, description: str = "checking images") -> pd.DataFrame:
    """Open every included subject's T1 and exclude those that are not usable, with the reason."""
    reasons = {}
    for idx in track(df.index[df["included"]], description=description):
        problem = check_t1_file(df.at[idx, "t1_path"])
        if problem:
            reasons[idx] = f"bad image: {problem}"
    if reasons:
        df = exclude(df, df.index.isin(list(reasons)), pd.Series(reasons, dtype=str).reindex(df.index, fill_value=""))
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV, checking that every required column is there."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest file does not exist (run `brainage ingest` first)")
    df = pd.read_csv(path, dtype={"subject_id": str, "site": str, "exclusion_reason": str, "sex": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"not a brainage manifest: missing columns {missing}")
    df["exclusion_reason"] = df["exclusion_reason"].fillna("")
    df["included"] = df["included"].astype(bool)
    return df


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest CSV atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df[COLUMNS + [c for c in df.columns if c not in COLUMNS]].to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def included(df: pd.DataFrame) -> pd.DataFrame:
    """The usable subjects only."""
    return df[df["included"]].reset_index(drop=True)

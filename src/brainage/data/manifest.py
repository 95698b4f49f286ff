"""The manifest: one table describing a cohort, shared by every pipeline stage.

Columns (see :data:`COLUMNS`): ``subject_id, site, age, sex, t1_path, included,
exclusion_reason, source``. ``sex`` is ``"F"`` or ``"M"``; ``age`` is in years. Excluded
subjects stay in the table with their reason, so every stage can report what it left out.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from brainage.data.images import check_t1_file
from brainage.errors import InputError
from brainage.files import write_csv
from brainage.progress import track

COLUMNS = ["subject_id", "site", "age", "sex", "t1_path", "included", "exclusion_reason", "source"]

_SEX_WORDS = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_sex(value, codes: dict | None = None, source: str | None = None) -> str:
    """Normalise a sex label to ``"F"``/``"M"``; ``codes`` maps numeric codes (IXI: 1=m, 2=f).

    Numeric codes mean different things in different datasets (IXI: 1 = male; many others:
    1 = female), so they are accepted only with an explicit ``codes`` mapping.

    Example:
        >>> parse_sex("female"), parse_sex(1, codes={1: "M", 2: "F"})
        ('F', 'M')
    """
    number = _number(value)
    if number is not None:
        for code, label in (codes or {}).items():
            if number == float(code):
                return label
        if not codes:
            raise InputError(
                source,
                f"numeric sex code {value!r} is ambiguous (IXI: 1=male; many datasets: 1=female); "
                "say which with --sex-coding 1=M,2=F or --sex-coding 1=F,2=M",
            )
    text = str(value).strip().lower()
    if text in _SEX_WORDS:
        return _SEX_WORDS[text]
    allowed = sorted(set(_SEX_WORDS) | {str(c) for c in (codes or {})})
    raise InputError(source, f"unknown sex code {value!r} (expected one of {allowed})")


def parse_sex_coding(text: str | None) -> dict | None:
    """``"1=M,2=F"`` -> ``{1: "M", 2: "F"}`` (the ``--sex-coding`` option); ``None`` stays ``None``.

    Example:
        >>> parse_sex_coding("1=F, 2=M")
        {1: 'F', 2: 'M'}
    """
    if not text:
        return None
    coding = {}
    for part in text.split(","):
        code, _, label = part.partition("=")
        number, label = _number(code), _SEX_WORDS.get(label.strip().lower())
        if number is None or label is None:
            raise InputError(None, f"--sex-coding {text!r}: expected pairs like 1=M,2=F")
        coding[int(number) if number.is_integer() else number] = label
    if sorted(coding.values()) != ["F", "M"]:
        raise InputError(None, f"--sex-coding {text!r}: give one code for M and one for F")
    return coding


def numeric_sex_check(values, codes: dict | None, source: str | Path) -> None:
    """Refuse a whole table of numeric sex codes up front when no coding was given (one clear
    error, rather than every subject excluded for the same reason)."""
    if codes:
        return
    numeric = [v for v in values if _number(v) is not None]
    if numeric:
        parse_sex(numeric[0], None, str(source))


def parse_age(value, source: str | None = None) -> float:
    """Age in years as a float, or :class:`InputError` for missing, non-numeric or absurd values."""
    if _blank(value):
        raise InputError(source, "age is missing")
    try:
        age = float(value)
    except (TypeError, ValueError):
        raise InputError(source, f"age {value!r} is not a number") from None
    if not 0 <= age <= 120:
        raise InputError(source, f"age {age:g} is outside 0-120 years")
    return age


def _blank(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or str(value).strip() in ("", "n/a", "NA", "nan")
    )


def parse_labels(age, sex, sex_coding: dict | None = None, required: bool = True) -> dict:
    """``{"age": ..., "sex": ...}`` from raw values; where labels are not ``required`` (prediction),
    a blank one is left unknown (NaN / empty) rather than refused.

    Example:
        >>> parse_labels("", "F", required=False)
        {'age': nan, 'sex': 'F'}
    """
    return {
        "age": float("nan") if not required and _blank(age) else parse_age(age),
        "sex": "" if not required and _blank(sex) else parse_sex(sex, codes=sex_coding),
    }


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


def read_table(path: str | Path, what: str, **kwargs) -> pd.DataFrame:
    """Read a CSV that a user handed to a stage, turning every way it can be wrong into one line."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a folder; expected a {what} (a .csv file)")
    if not path.is_file():
        raise InputError(path, f"{what} does not exist")
    if path.name.endswith((".nii", ".nii.gz", ".mgz")):
        raise InputError(path, f"is an image; expected a {what} (make one with `brainage ingest csv|bids|ixi`)")
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip():
        raise InputError(path, f"is empty; expected a {what} with a header row")
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise InputError(path, f"is empty; expected a {what} with a header row") from None
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error, OSError, EOFError) as exc:
        raise InputError(
            path, f"is not a readable {what} ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV, checking that every required column is there.

    Parameters
    ----------
    path
        A ``manifest.csv``.

    Returns
    -------
    pandas.DataFrame
        The manifest, every required column checked.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "manifest file does not exist (run `brainage ingest` first)")
    df = read_table(path, "manifest CSV", dtype={"subject_id": str, "site": str, "exclusion_reason": str, "sex": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"not a brainage manifest: missing columns {missing}")
    df["exclusion_reason"] = df["exclusion_reason"].fillna("")
    df["included"] = df["included"].astype(bool)
    return df


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest CSV atomically.

    Parameters
    ----------
    df
        The manifest table.
    path
        Where to write it (atomically).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_csv(df[COLUMNS + [c for c in df.columns if c not in COLUMNS]], path)


def included(df: pd.DataFrame) -> pd.DataFrame:
    """The usable subjects only."""
    return df[df["included"]].reset_index(drop=True)

"""A person's QC decisions: an overrides file brainage reads back and never overwrites.

``qc_overrides.csv`` has columns ``subject_id, verdict, note``; ``verdict`` is ``pass``,
``warn`` or ``fail``. A row there replaces the automatic verdict in ``qc_verdicts.csv``
(column ``final_verdict``), which the split and training stages use.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.errors import InputError
from brainage.files import write_csv

VERDICTS = ("pass", "warn", "fail")
OVERRIDE_COLUMNS = ["subject_id", "verdict", "note"]


def ensure_overrides_file(path: str | Path) -> Path:
    """Create an empty overrides file with a header if there is none; never touch an existing one."""
    path = Path(path)
    if not path.exists():
        write_csv(pd.DataFrame(columns=OVERRIDE_COLUMNS), path)
    return path


def read_overrides(path: str | Path) -> pd.DataFrame:
    """Validated overrides (an absent file means none)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=OVERRIDE_COLUMNS)
    table = pd.read_csv(path, dtype=str).fillna("")
    missing = [c for c in ("subject_id", "verdict") if c not in table.columns]
    if missing:
        raise InputError(path, f"overrides file lacks columns {missing} (expected {OVERRIDE_COLUMNS})")
    if "note" not in table.columns:
        table["note"] = ""
    table["verdict"] = table["verdict"].str.strip().str.lower()
    bad = table[~table["verdict"].isin(VERDICTS)]
    if len(bad):
        row = bad.iloc[0]
        raise InputError(path, f"subject {row.subject_id}: verdict {row.verdict!r} is not one of {list(VERDICTS)}")
    dup = table["subject_id"][table["subject_id"].duplicated()]
    if len(dup):
        raise InputError(path, f"subject {dup.iloc[0]} appears more than once")
    return table[OVERRIDE_COLUMNS]


def apply_overrides(verdicts: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Add ``override``, ``final_verdict`` and ``final_reasons`` columns."""
    out = verdicts.copy()
    o = overrides.set_index("subject_id")
    out["override"] = out["subject_id"].map(o["verdict"]).fillna("")
    out["override_note"] = out["subject_id"].map(o["note"]).fillna("")
    has = out["override"] != ""
    out["final_verdict"] = out["override"].where(has, out["verdict"])
    out["final_reasons"] = out["reasons"].where(
        ~has, "override by reviewer: " + out["override_note"].where(out["override_note"] != "", out["override"])
    )
    return out

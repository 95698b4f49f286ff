"""Ingest a plain CSV (columns ``path, age, sex`` and optionally ``subject_id, site``).

For prediction (``labels_required=False``) only ``path`` is needed; age and sex are used where given.

For anything that is neither IXI nor BIDS, e.g. a hospital PACS export. Relative paths are
resolved against the CSV's folder and stored absolute, so later stages run from any folder.
Numeric sex codes need an explicit ``sex_coding`` (``--sex-coding 1=M,2=F``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import check_images, make_manifest, numeric_sex_check, parse_labels, read_table
from brainage.errors import InputError

REQUIRED = ("path", "age", "sex")


def _separator(csv_path: Path) -> str:
    """Comma, semicolon (European spreadsheets) or tab, from the header line. Not pandas' sniffer:
    it takes a letter of a one-column header (``path``) for the separator."""
    try:
        header = csv_path.open(errors="replace").readline()
    except OSError:
        return ","
    return max((",", ";", "\t"), key=header.count) if any(c in header for c in ",;\t") else ","


def ingest_csv(
    csv_path: str | Path, check: bool = True, sex_coding: dict | None = None, labels_required: bool = True
) -> pd.DataFrame:
    """Build a manifest from a CSV of ``path, age, sex[, subject_id, site]``.

    Parameters
    ----------
    csv_path
        A CSV with ``path, age, sex`` and optionally ``subject_id, site``.
    check
        Open every image and exclude unreadable ones, with the reason.
    sex_coding
        Map of numeric sex codes to ``M``/``F``.
    labels_required
        Whether age and sex must be given (training) or may be missing (prediction).

    Returns
    -------
    pandas.DataFrame
        The manifest.

    Example:
        >>> manifest = ingest_csv("hospital_export.csv")  # doctest: +SKIP
    """
    csv_path = Path(csv_path)
    table = read_table(csv_path, "CSV file", dtype=str, sep=_separator(csv_path))
    table.columns = [c.strip().lower() for c in table.columns]
    needed = REQUIRED if labels_required else ("path",)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(csv_path, f"missing columns {missing} (found {list(table.columns)}; need {', '.join(needed)})")
    if table.empty:
        raise InputError(csv_path, "has a header but no rows")
    numeric_sex_check(table["sex"].dropna() if "sex" in table else [], sex_coding, csv_path)
    records = []
    for i, row in table.iterrows():
        path = Path(str(row["path"]).strip())
        path = (path if path.is_absolute() else csv_path.parent / path).absolute()
        sid = row.get("subject_id")
        record = {
            "subject_id": str(sid).strip() if isinstance(sid, str) and sid.strip() else f"row{i + 1:04d}",
            "site": row.get("site") if isinstance(row.get("site"), str) else "unknown",
            "t1_path": str(path),
            "source": "csv",
            "included": True,
            "exclusion_reason": "",
        }
        where = f"{csv_path} row {i + 2}"
        try:
            record.update(parse_labels(row.get("age"), row.get("sex"), sex_coding, labels_required))
        except InputError as exc:
            record.update(included=False, exclusion_reason=f"{where}: {exc.problem}")
        records.append(record)
    manifest = make_manifest(records)
    return check_images(manifest, description="checking images") if check else manifest

"""Ingest the IXI dataset: the official ``IXI.xls`` plus ``IXInnn-SITE-nnnn-T1.nii.gz`` files.

The spreadsheet has real-world quirks this module handles explicitly (and reports):
duplicate ``IXI_ID`` rows that agree (one is kept) or conflict on sex / date of birth / age
(the subject is excluded: its labels cannot be trusted), rows with no ``AGE``, scans with no
row, and rows with no scan (listed in the ingestion report, not in the manifest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainage.data.manifest import check_images, make_manifest, parse_age
from brainage.errors import InputError

SHEET = "Table"
ID_COLUMN = "IXI_ID"
SEX_COLUMN = "SEX_ID (1=m, 2=f)"
AGE_COLUMN = "AGE"
DOB_COLUMN = "DOB"
SEX_CODES = {1: "M", 2: "F"}
SITES = ("Guys", "HH", "IOP")
FILE_PATTERN = re.compile(r"^IXI(?P<id>\d{3})-(?P<site>[A-Za-z]+)-(?P<scan>\d{4})-T1\.nii(\.gz)?$")
#: Two rows for one subject whose ages differ by more than this (years) disagree.
AGE_TOLERANCE_Y = 0.01


@dataclass
class IXIReport:
    """What ingestion found besides the manifest: rows that have no scan, duplicate handling."""

    rows_without_scan: list[int] = field(default_factory=list)
    duplicate_ids_agreeing: list[int] = field(default_factory=list)
    duplicate_ids_conflicting: list[int] = field(default_factory=list)
    unparsed_files: list[str] = field(default_factory=list)


def read_ixi_table(xls_path: str | Path) -> pd.DataFrame:
    """Read the ``Table`` sheet of IXI.xls (or the same table saved as CSV), checking the columns
    brainage needs are present."""
    xls_path = Path(xls_path)
    if not xls_path.is_file():
        raise InputError(xls_path, "IXI spreadsheet not found (expected the official IXI.xls)")
    try:
        if xls_path.suffix.lower() == ".csv":
            table = pd.read_csv(xls_path)
        else:
            table = pd.read_excel(xls_path, sheet_name=SHEET, engine="calamine")
    except ValueError as exc:
        raise InputError(xls_path, f"cannot read sheet {SHEET!r}: {exc}") from None
    except Exception as exc:  # calamine raises its own types for corrupt workbooks
        raise InputError(xls_path, f"not a readable Excel file ({type(exc).__name__}: {exc})") from None
    missing = [c for c in (ID_COLUMN, SEX_COLUMN, AGE_COLUMN) if c not in table.columns]
    if missing:
        raise InputError(xls_path, f"sheet {SHEET!r} lacks columns {missing}")
    return table


def _rows_conflict(rows: pd.DataFrame) -> str:
    """Say how duplicate rows of one IXI_ID disagree on the labels we use, or ``""``."""
    problems = []
    if rows[SEX_COLUMN].dropna().nunique() > 1:
        problems.append("sex")
    if DOB_COLUMN in rows:
        dobs = pd.to_datetime(rows[DOB_COLUMN], errors="coerce").dropna().dt.date
        if dobs.nunique() > 1:
            problems.append("date of birth")
    ages = pd.to_numeric(rows[AGE_COLUMN], errors="coerce").dropna()
    if len(ages) > 1 and float(ages.max() - ages.min()) > AGE_TOLERANCE_Y:
        problems.append("age")
    return " and ".join(problems)


def find_ixi_scans(folder: Path) -> tuple[dict[int, tuple[str, Path]], list[str]]:
    """Map IXI_ID -> (site, path) for every ``IXI*-T1.nii[.gz]`` under ``folder``."""
    scans: dict[int, tuple[str, Path]] = {}
    unparsed = []
    for path in sorted(folder.rglob("IXI*.nii*")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            if "-T1" in path.name:
                unparsed.append(str(path))
            continue
        scans[int(match["id"])] = (match["site"], path)
    return scans, unparsed


def ingest_ixi(folder: str | Path, xls_path: str | Path | None = None, check: bool = True) -> pd.DataFrame:
    """Build a manifest from an IXI download, as :func:`~brainage.data.ingest_bids.ingest_bids` and
    :func:`~brainage.data.ingest_csv.ingest_csv` do from theirs.

    Parameters
    ----------
    folder
        Folder holding the T1 files (searched recursively) and, by default, ``IXI.xls``.
    xls_path
        The spreadsheet, if not ``folder/IXI.xls``.
    check
        Open every image and exclude unreadable ones, with the reason.

    Returns
    -------
    pandas.DataFrame
        The manifest: one row per scan, excluded ones kept with their reason
        (:func:`ingest_ixi_with_report` also says what the spreadsheet held without a scan).

    Example:
        >>> manifest = ingest_ixi("../shared/data/ixi-hh")  # doctest: +SKIP
        >>> int(manifest.included.sum())  # doctest: +SKIP
        180
    """
    return ingest_ixi_with_report(folder, xls_path, check)[0]


def ingest_ixi_with_report(
    folder: str | Path, xls_path: str | Path | None = None, check: bool = True
) -> tuple[pd.DataFrame, IXIReport]:
    """:func:`ingest_ixi` (the same parameters), and what was read from the spreadsheet: rows
    without a scan, duplicate IDs that agree and those that conflict (an :class:`IXIReport`).

    Example:
        >>> manifest, report = ingest_ixi_with_report("../shared/data/ixi-hh")  # doctest: +SKIP
        >>> len(report.rows_without_scan) > 0  # doctest: +SKIP
        True
    """
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise InputError(folder, "IXI folder does not exist")
    table = read_ixi_table(xls_path or folder / "IXI.xls")
    scans, unparsed = find_ixi_scans(folder)
    if not scans:
        raise InputError(folder, "no IXInnn-SITE-nnnn-T1.nii[.gz] files found")
    report = IXIReport(unparsed_files=unparsed)
    report.rows_without_scan = sorted(int(i) for i in set(table[ID_COLUMN].dropna().astype(int)) - set(scans))

    records = []
    for ixi_id, (site, path) in sorted(scans.items()):
        rows = table[table[ID_COLUMN] == ixi_id]
        record = {
            "subject_id": f"IXI{ixi_id:03d}",
            "site": site,
            "t1_path": str(path),
            "source": "ixi",
            "age": np.nan,
            "sex": "",
            "included": True,
            "exclusion_reason": "",
        }
        reason = ""
        if site not in SITES:
            reason = f"unknown IXI site {site!r} in file name (expected {', '.join(SITES)})"
        if rows.empty:
            reason = reason or "no row in IXI.xls for this scan"
        else:
            if len(rows) > 1:
                conflict = _rows_conflict(rows)
                (report.duplicate_ids_conflicting if conflict else report.duplicate_ids_agreeing).append(ixi_id)
                if conflict:
                    reason = reason or f"IXI.xls has {len(rows)} rows for this ID that disagree on {conflict}"
            ages = rows[AGE_COLUMN].dropna()
            sexes = rows[SEX_COLUMN].dropna()
            try:
                if not reason:
                    if ages.empty:
                        raise InputError(None, "AGE is missing in IXI.xls")
                    record["age"] = parse_age(ages.iloc[0], source="IXI.xls AGE")
                    code = pd.to_numeric(sexes.iloc[0], errors="coerce") if len(sexes) else None
                    record["sex"] = SEX_CODES.get(int(code)) if code is not None and pd.notna(code) else None
                    if not record["sex"]:
                        code = sexes.iloc[0] if len(sexes) else "missing"
                        raise InputError(None, f"unknown SEX_ID {code!r} in IXI.xls (expected 1=m or 2=f)")
            except (InputError, ValueError) as exc:
                reason = str(exc)
        if reason:
            record.update(included=False, exclusion_reason=reason)
        records.append(record)
    manifest = make_manifest(records)
    if check:
        manifest = check_images(manifest, description="checking IXI images")
    return manifest, report

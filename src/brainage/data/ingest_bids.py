"""Ingest a BIDS dataset: ``participants.tsv`` + ``sub-*/[ses-*/]anat/*_T1w.nii[.gz]``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import check_images, make_manifest, parse_age, parse_sex
from brainage.errors import InputError

AGE_COLUMNS = ("age", "Age", "AGE", "age_at_scan")
SEX_COLUMNS = ("sex", "Sex", "SEX", "gender", "Gender")
SITE_COLUMNS = ("site", "Site", "SITE", "scanner")


def _pick(columns, candidates, path: Path, what: str, required: bool = True):
    for name in candidates:
        if name in columns:
            return name
    if required:
        raise InputError(path, f"no {what} column (looked for {', '.join(candidates)}; found {', '.join(columns)})")
    return None


def find_bids_t1(root: Path, participant: str) -> list[Path]:
    """All T1w images of one participant, sessions in name order."""
    return sorted((root / participant).glob("anat/*_T1w.nii*")) + sorted((root / participant).glob("ses-*/anat/*_T1w.nii*"))


def ingest_bids(root: str | Path, check: bool = True) -> pd.DataFrame:
    """Build a manifest from a BIDS folder; the first T1w of each participant is used.

    Example:
        >>> manifest = ingest_bids("results/demo/cohort")  # doctest: +SKIP
    """
    root = Path(root)
    tsv = root / "participants.tsv"
    if not tsv.is_file():
        raise InputError(tsv, "participants.tsv not found: is this a BIDS dataset root?")
    table = pd.read_csv(tsv, sep="\t", dtype=str)
    if "participant_id" not in table.columns:
        raise InputError(tsv, f"missing column 'participant_id' (found {', '.join(table.columns)})")
    age_col = _pick(table.columns, AGE_COLUMNS, tsv, "age")
    sex_col = _pick(table.columns, SEX_COLUMNS, tsv, "sex")
    site_col = _pick(table.columns, SITE_COLUMNS, tsv, "site", required=False)
    records = []
    for _, row in table.iterrows():
        pid = str(row["participant_id"]).strip()
        pid = pid if pid.startswith("sub-") else f"sub-{pid}"
        record = {"subject_id": pid, "site": row[site_col] if site_col else "unknown", "source": "bids",
                  "t1_path": "", "included": True, "exclusion_reason": ""}
        try:
            images = find_bids_t1(root, pid)
            if not images:
                raise InputError(None, f"no T1w image under {root / pid}")
            record["t1_path"] = str(images[0])
            record["age"] = parse_age(row[age_col])
            record["sex"] = parse_sex(row[sex_col], codes={1: "M", 2: "F"})
        except InputError as exc:
            record.update(included=False, exclusion_reason=f"participants.tsv: {exc.problem}")
        records.append(record)
    manifest = make_manifest(records)
    return check_images(manifest, description="checking BIDS images") if check else manifest

"""Ingest a BIDS dataset: ``participants.tsv`` + ``sub-*/[ses-*/]anat/*_T1w.nii[.gz]``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import check_images, make_manifest, numeric_sex_check, parse_labels, read_table
from brainage.errors import InputError
from brainage.layout import CohortDir

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


#: The pybids query of a dataset's T1-weighted images (``sub-*/[ses-*/]anat/*_T1w.nii[.gz]``).
T1W_QUERY = {"suffix": "T1w", "extension": [".nii", ".nii.gz"], "datatype": "anat"}


def t1_images(root: Path) -> dict[str, list[str]]:
    """``sub-<label> -> its T1w images``, sessions in name order (those without a session first),
    as pybids indexes the dataset (derivatives left out; no validation, so a dataset without a
    description still reads)."""
    from bids import BIDSLayout

    found: dict[str, list[str]] = {}
    files = BIDSLayout(str(root), validate=False).get(**T1W_QUERY)
    for f in sorted(files, key=lambda f: f.path):
        found.setdefault(f"sub-{f.entities['subject']}", []).append(f.path)
    return found


def ingest_bids(
    root: str | Path, check: bool = True, sex_coding: dict | None = None, labels_required: bool = True
) -> pd.DataFrame:
    """Build a manifest from a BIDS folder; the first T1w of each participant is used. Image
    paths are stored absolute; numeric sex codes need an explicit ``sex_coding``. For prediction
    (``labels_required=False``) age and sex columns are optional.

    Parameters
    ----------
    root
        The BIDS dataset folder (``participants.tsv`` and ``sub-*/anat/*_T1w.nii[.gz]``).
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
        >>> manifest = ingest_bids("results/demo/cohort")  # doctest: +SKIP
    """
    cohort = CohortDir(Path(root).absolute())
    root, tsv = cohort.root, cohort.participants
    if not tsv.is_file():
        raise InputError(tsv, "participants.tsv not found: is this a BIDS dataset root?")
    table = read_table(tsv, "BIDS participants table", sep="\t", dtype=str)
    if "participant_id" not in table.columns:
        raise InputError(tsv, f"missing column 'participant_id' (found {', '.join(table.columns)})")
    age_col = _pick(table.columns, AGE_COLUMNS, tsv, "age", required=labels_required)
    sex_col = _pick(table.columns, SEX_COLUMNS, tsv, "sex", required=labels_required)
    site_col = _pick(table.columns, SITE_COLUMNS, tsv, "site", required=False)
    numeric_sex_check(table[sex_col].dropna() if sex_col else [], sex_coding, tsv)
    images_of = t1_images(root)
    records = []
    for _, row in table.iterrows():
        pid = str(row["participant_id"]).strip()
        pid = pid if pid.startswith("sub-") else f"sub-{pid}"
        record = {
            "subject_id": pid,
            "site": row[site_col] if site_col else "unknown",
            "source": "bids",
            "t1_path": "",
            "included": True,
            "exclusion_reason": "",
        }
        try:
            images = images_of.get(pid, [])
            if not images:
                raise InputError(None, f"no T1w image under {root / pid}")
            record["t1_path"] = str(images[0])
            record.update(
                parse_labels(
                    row[age_col] if age_col else None, row[sex_col] if sex_col else None, sex_coding, labels_required
                )
            )
        except InputError as exc:
            record.update(included=False, exclusion_reason=f"participants.tsv: {exc.problem}")
        records.append(record)
    manifest = make_manifest(records)
    return check_images(manifest, description="checking BIDS images") if check else manifest

"""Every T1w of a BIDS dataset, by participant and session, with the age at that session.

A BIDS App (``brainage bids``) works per participant and session, where :mod:`brainage.data.ingest_bids`
takes one T1w per participant for training. pybids indexes the dataset (entities, sessions,
the ``participants.tsv`` and ``sub-<label>_sessions.tsv`` tables); only the choice of one image
per session (the first run) and the age at each session are ours.

Example:
    >>> table = bids_sessions("ds/", participants=["01"])  # doctest: +SKIP
    >>> table.columns.tolist()[:4]  # doctest: +SKIP
    ['subject_id', 'participant', 'session', 'age']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainage.data.ingest_bids import AGE_COLUMNS, SEX_COLUMNS, SITE_COLUMNS, T1W_QUERY
from brainage.data.manifest import read_table
from brainage.errors import InputError
from brainage.layout import CohortDir

COLUMNS = ["subject_id", "participant", "session", "age", "sex", "site", "path"]


def _label(value: str, prefix: str) -> str:
    """``01`` from ``sub-01`` or ``01`` (BIDS labels are given either way on command lines)."""
    value = str(value).strip()
    return value[len(prefix) :] if value.startswith(prefix) else value


def _first(columns, candidates) -> str | None:
    return next((c for c in candidates if c in columns), None)


def _participants(root: Path) -> pd.DataFrame:
    path = CohortDir(root).participants
    if not path.is_file():
        return pd.DataFrame(columns=["participant"])
    table = read_table(path, "BIDS participants table", sep="\t", dtype=str)
    if "participant_id" not in table:
        raise InputError(path, f"missing column 'participant_id' (found {', '.join(table.columns)})")
    out = pd.DataFrame({"participant": table.participant_id.map(lambda v: _label(v, "sub-"))})
    for name, candidates in (("age", AGE_COLUMNS), ("sex", SEX_COLUMNS), ("site", SITE_COLUMNS)):
        column = _first(table.columns, candidates)
        out[name] = table[column].to_numpy() if column else None
    return out


def _session_ages(layout, participant: str) -> dict[str, float]:
    """``session label -> age`` from ``sub-<label>_sessions.tsv`` where it has an age column."""
    tables = layout.get(subject=participant, suffix="sessions", extension=".tsv")
    if not tables:
        return {}
    path = Path(tables[0].path)
    table = read_table(path, "BIDS sessions table", sep="\t", dtype=str)
    column = _first(table.columns, AGE_COLUMNS)
    if "session_id" not in table or column is None:
        return {}
    ages = pd.to_numeric(table[column], errors="coerce")
    return {_label(s, "ses-"): float(a) for s, a in zip(table.session_id, ages) if np.isfinite(a)}


def bids_sessions(
    root: str | Path, participants: list[str] | None = None, sessions: list[str] | None = None
) -> pd.DataFrame:
    """One row per participant and session with a T1w image: ``subject_id`` (``sub-01_ses-2``, or
    ``sub-01`` without sessions), ``participant`` and ``session`` labels, the age at that session
    (``sessions.tsv``, else ``participants.tsv``), sex, site and the image ``path`` (the first run
    where a session has several).

    Parameters
    ----------
    root
        The BIDS dataset folder.
    participants
        Participant labels to keep (``01`` or ``sub-01``); default every participant.
    sessions
        Session labels to keep (``1`` or ``ses-1``); default every session.

    Returns
    -------
    pandas.DataFrame
        The :data:`COLUMNS`, one row per session.
    """
    from bids import BIDSLayout

    root = Path(root).absolute()
    if not CohortDir(root).description.is_file():
        raise InputError(root, "no dataset description (dataset_description.json): is this a BIDS dataset root?")
    layout = BIDSLayout(str(root), validate=False)
    query = dict(T1W_QUERY)
    if participants:
        query["subject"] = [_label(p, "sub-") for p in participants]
    if sessions:
        query["session"] = [_label(s, "ses-") for s in sessions]
    files = sorted(layout.get(**query), key=lambda f: f.path)
    if participants:
        found = {f.entities["subject"] for f in files}
        missing = [p for p in query["subject"] if p not in found]
        if missing:
            raise InputError(root, f"no T1w image for participant(s) {', '.join(missing)}")
    table = _participants(root).drop_duplicates("participant").set_index("participant")
    rows, seen = [], set()
    for f in files:
        participant, session = f.entities["subject"], f.entities.get("session")
        key = (participant, session)
        if key in seen:  # a second run of the same session
            continue
        seen.add(key)
        info = table.loc[participant] if participant in table.index else pd.Series(dtype=object)
        age = _session_ages(layout, participant).get(session) if session else None
        if age is None:
            age = pd.to_numeric(info.get("age"), errors="coerce")
        rows.append(
            {
                "subject_id": f"sub-{participant}" + (f"_ses-{session}" if session else ""),
                "participant": participant,
                "session": session or "",
                "age": float(age) if age is not None and np.isfinite(age) else np.nan,
                "sex": info.get("sex"),
                "site": info.get("site") or "unknown",
                "path": f.path,
            }
        )
    if not rows:
        raise InputError(root, "no T1w image found (sub-*/[ses-*/]anat/*_T1w.nii[.gz])")
    return pd.DataFrame(rows, columns=COLUMNS)

"""``brainage bids BIDS_DIR OUT_DIR participant|group``: brain age as a BIDS App.

The way MRIQC and fMRIPrep run: ``participant`` predicts every session of the participants it
is given (``--participant-label``, ``--session-label``), one node each on a cluster if you like,
and writes only into that participant's folder of a BIDS derivatives dataset (and its own
``work/sub-<label>`` folder; every run writes the same ``dataset_description.json`` and
``.bidsignore``, atomically). ``group`` then gathers every participant's tables into the group
table, the **change over time** of each participant scanned twice or more (brain-age years per
year, with an interval from the model's own), and a page with everyone's trajectory.

Each session's prediction is :func:`brainage.predict.run.predict` on that session's T1w, with the
age at that session (``sub-<label>_sessions.tsv``, else ``participants.tsv``). The layout of the
output is :class:`~brainage.layout.BidsDerivativesDir`.

Example:
    >>> bids_participant("ds/", "out/", participants=["01"])  # doctest: +SKIP
    >>> bids_group("out/")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from brainage.bundle.bundle import Bundle, default_bundle_path, load_bundle
from brainage.data.bids_sessions import bids_sessions
from brainage.data.manifest import read_table
from brainage.errors import InputError
from brainage.evaluation import plots
from brainage.files import file_digest, write_csv, write_json, write_text
from brainage.html import image_links, trusted, write_template
from brainage.layout import BidsDerivativesDir, PredictDir
from brainage.parallel import Executor
from brainage.predict.run import predict_files
from brainage.progress import console
from brainage.training.intervals import DEFAULT_COVERAGE
from brainage.version import __version__

BIDS_VERSION = "1.9.0"
YEARS = "year"

#: Columns of every session's predictions table, with their sidecar description and unit.
SESSION_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("participant label, with its sub- prefix", None),
    "session_id": ("session label, with its ses- prefix (empty without sessions)", None),
    "age": ("chronological age at this session, from sessions.tsv or participants.tsv", YEARS),
    "sex": ("sex as given in participants.tsv", None),
    "predicted_age": ("brain age predicted by the model", YEARS),
    "predicted_age_low": ("lower end of the interval of the age of a healthy person with this prediction", YEARS),
    "predicted_age_high": ("upper end of that interval", YEARS),
    "brain_age_gap": ("predicted_age minus age", YEARS),
    "corrected_age": ("brain age with the training cohort's age-dependent bias removed (needs the age)", YEARS),
    "corrected_age_low": ("lower end of the interval of corrected_age", YEARS),
    "corrected_age_high": ("upper end of the interval of corrected_age", YEARS),
    "corrected_gap": ("corrected_age minus age", YEARS),
    "p_male": ("predicted probability that the participant is male", None),
    "predicted_sex": ("M where p_male > 0.5, else F", None),
    "interval_widened": ("why the interval is wider than the model's base one (empty: not widened)", None),
    "qc_verdict": ("automatic quality-control verdict of the scan: pass, warn or fail", None),
    "qc_reasons": ("every quality-control finding, most severe first", None),
    "scanner_differs": ("scanner-dependent QC metrics unlike the training scanner's (not a warning)", None),
    "warnings": ("why this prediction deserves less trust (empty: none)", None),
}

#: Columns of the change table, with their description and unit.
CHANGE_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("participant label, with its sub- prefix", None),
    "n_sessions": ("sessions with an age and a prediction", None),
    "first_session": ("the earliest of them", None),
    "last_session": ("the latest of them", None),
    "years": ("chronological years between them", YEARS),
    "brain_age_change_per_year": ("predicted brain age gained per year of age (1: as fast as the years)", None),
    "brain_age_change_per_year_low": ("lower end of its interval, from the two sessions' intervals", None),
    "brain_age_change_per_year_high": ("upper end of that interval", None),
    "corrected_change_per_year": ("the same for the bias-corrected age", None),
    "corrected_change_per_year_low": ("lower end of its interval", None),
    "corrected_change_per_year_high": ("upper end of that interval", None),
}


def _sidecar(columns: dict[str, tuple[str, str | None]], coverage: float | None = None) -> dict:
    out = {}
    for name, (description, unit) in columns.items():
        if coverage is not None and name.endswith(("_low", "_high")):
            description += f" ({coverage:.0%} coverage)"
        out[name] = {"Description": description, **({"Units": unit} if unit else {})}
    return out


def write_dataset_files(out: BidsDerivativesDir, bundle_path: Path, bundle: Bundle, source: Path) -> None:
    """``dataset_description.json`` (a derivative, generated by brainage with this model file and
    its checksum) and ``.bidsignore`` (the work folders and pages); the same content from every
    participant run, written atomically."""
    write_json(
        out.description,
        {
            "Name": "brainage: brain age and sex predictions",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "derivative",
            "GeneratedBy": [
                {
                    "Name": "brainage",
                    "Version": __version__,
                    "Description": f"model {bundle_path.name} ({bundle.meta.name}, sha256 {file_digest(bundle_path)})",
                }
            ],
            "SourceDatasets": [{"URL": source.absolute().as_uri()}],
        },
    )
    write_text(out.bidsignore, "work/\n*.html\nfigures/\n")


def _session_table(row: pd.Series, predicted: pd.Series | None) -> pd.DataFrame:
    values = {
        "participant_id": f"sub-{row.participant}",
        "session_id": f"ses-{row.session}" if row.session else "",
        "age": row.age,
        "sex": row.sex,
    }
    for column in list(SESSION_COLUMNS)[4:]:
        values[column] = predicted.get(column, np.nan) if predicted is not None else np.nan
    return pd.DataFrame([values], columns=list(SESSION_COLUMNS))


def _participant_page(out: BidsDerivativesDir, participant: str, rows: pd.DataFrame) -> Path:
    shown = rows[["session_id", "age", "predicted_age", "predicted_age_low", "predicted_age_high", "qc_verdict"]]
    pictures = [out.qc_picture(participant, s.removeprefix("ses-")) for s in rows.session_id.fillna("")]
    return write_template(
        out.subject_page(participant),
        "bids_participant",
        f"sub-{participant}",
        participant=participant,
        sessions=trusted(shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.1f}")),
        pictures=trusted(image_links([p for p in pictures if p.is_file()], out.figures(participant), height=220)),
    )


def bids_participant(
    bids_dir: str | Path,
    out_dir: str | Path,
    participants: list[str] | None = None,
    sessions: list[str] | None = None,
    bundle: str | Path | None = None,
    executor: Executor = Executor(),
    coverage: float = DEFAULT_COVERAGE,
) -> pd.DataFrame:
    """Predict every session of ``participants`` (default: all) of a BIDS dataset into a BIDS
    derivatives folder; returns the sessions' predictions.

    Parameters
    ----------
    bids_dir
        The BIDS dataset.
    out_dir
        The derivatives folder (created if missing; other participants' files are left alone).
    participants
        Participant labels (``01`` or ``sub-01``); default every participant.
    sessions
        Session labels to keep (``1`` or ``ses-1``); default every session.
    bundle
        A ``.brainage`` model file; default the shipped model.
    executor
        Where preprocessing runs (local workers or a Dask cluster).
    coverage
        Coverage of the interval beside every age.

    Returns
    -------
    pandas.DataFrame
        One row per session: :data:`SESSION_COLUMNS`.
    """
    bids_dir, out = Path(bids_dir), BidsDerivativesDir(out_dir)
    table = bids_sessions(bids_dir, participants, sessions)
    bundle_path = Path(bundle) if bundle else default_bundle_path()
    model = load_bundle(bundle_path)
    out.root.mkdir(parents=True, exist_ok=True)
    write_dataset_files(out, bundle_path, model, bids_dir)
    results = []
    for participant, rows in table.groupby("participant", sort=True):
        work = PredictDir(out.work(participant) / "predict")
        inputs = out.work_inputs(participant)
        write_csv(rows[["subject_id", "path", "age", "sex", "site"]], inputs)
        console.print(f"sub-{participant}: {len(rows)} session(s)")
        try:
            predicted = predict_files(inputs, work.root, model, executor, coverage=coverage)
        except InputError as exc:  # nothing predictable: each session still gets its row and reason
            console.print(f"[yellow]sub-{participant}: {exc}")
            predicted = pd.read_csv(work.predictions, dtype={"subject_id": str}) if work.predictions.is_file() else None
        by_id = predicted.set_index("subject_id") if predicted is not None else pd.DataFrame()
        mine = []
        for row in rows.itertuples():
            found = by_id.loc[row.subject_id] if row.subject_id in by_id.index else None
            session_table = _session_table(pd.Series(row._asdict()), found)
            tsv = out.predictions(participant, row.session)
            write_csv(session_table, tsv, sep="\t", na_rep="n/a")
            write_json(tsv.with_suffix(".json"), _sidecar(SESSION_COLUMNS, coverage))
            steps = work.preprocessed.subject(row.subject_id).steps
            if steps.is_file():
                write_json(out.preprocessing(participant, row.session), json.loads(steps.read_text()))
            montage = work.preprocessed.qc.montage(row.subject_id)
            if montage.is_file():
                out.figures(participant).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(montage, out.qc_picture(participant, row.session))
            mine.append(session_table)
        mine = pd.concat(mine, ignore_index=True)
        _participant_page(out, participant, mine)
        results.append(mine)
    return pd.concat(results, ignore_index=True)


def _read_sessions(out: BidsDerivativesDir) -> pd.DataFrame:
    paths = out.session_tables()
    if not paths:
        raise InputError(out.root, "no participant's predictions: run `brainage bids BIDS_DIR OUT participant` first")
    tables = [read_table(p, "predictions table", sep="\t", na_values="n/a", keep_default_na=False) for p in paths]
    return pd.concat(tables, ignore_index=True).fillna({"session_id": ""})


#: Which age each change is computed on, and its column.
CHANGES = (("predicted_age", "brain_age_change_per_year"), ("corrected_age", "corrected_change_per_year"))


def change_over_time(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per participant with two or more sessions that have an age and a prediction: brain-age years
    gained per year between the first and the last, for the predicted and the corrected age. The
    interval of each change is the two sessions' intervals combined as independent errors (half-
    widths in quadrature over the years): wide where the years are few, as it should be.

    Example:
        >>> s = pd.DataFrame({"participant_id": ["sub-1", "sub-1"], "session_id": ["ses-1", "ses-2"],
        ...                   "age": [60.0, 64.0], "predicted_age": [58.0, 66.0],
        ...                   "predicted_age_low": [50.0, 58.0], "predicted_age_high": [66.0, 74.0]})
        >>> change_over_time(s).brain_age_change_per_year.tolist()
        [2.0]
    """
    rows = []
    for participant, group in sessions.dropna(subset=["age", "predicted_age"]).groupby("participant_id"):
        if len(group) < 2:
            continue
        group = group.sort_values("age")
        first, last = group.iloc[0], group.iloc[-1]
        years = float(last.age - first.age)
        if years <= 0:
            continue
        row = {
            "participant_id": participant,
            "n_sessions": int(len(group)),
            "first_session": first.session_id,
            "last_session": last.session_id,
            "years": years,
        }
        for column, name in CHANGES:
            if column not in group or pd.isna(first.get(column)) or pd.isna(last.get(column)):
                row.update({name: np.nan, f"{name}_low": np.nan, f"{name}_high": np.nan})
                continue
            rate = float(last[column] - first[column]) / years
            halves = [(r.get(f"{column}_high", np.nan) - r.get(f"{column}_low", np.nan)) / 2 for r in (first, last)]
            spread = float(np.hypot(*halves)) / years
            row.update({name: rate, f"{name}_low": rate - spread, f"{name}_high": rate + spread})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))


def bids_group(out_dir: str | Path) -> pd.DataFrame:
    """Gather every participant's predictions of a ``brainage bids ... participant`` folder: the
    group table, the change over time, and a page with everyone's trajectory; returns the change
    table.

    Parameters
    ----------
    out_dir
        The derivatives folder the participant runs wrote.

    Returns
    -------
    pandas.DataFrame
        One row per participant scanned twice or more: :data:`CHANGE_COLUMNS`.
    """
    out = BidsDerivativesDir(out_dir)
    sessions = _read_sessions(out)
    write_csv(sessions, out.group_table, sep="\t", na_rep="n/a")
    write_json(out.group_table.with_suffix(".json"), _sidecar(SESSION_COLUMNS))
    change = change_over_time(sessions)
    write_csv(change, out.group_change, sep="\t", na_rep="n/a")
    write_json(out.group_change.with_suffix(".json"), _sidecar(CHANGE_COLUMNS))
    figures = []
    known = sessions.dropna(subset=["age", "predicted_age"])
    if len(known):
        figures.append(plots.trajectories(known, out.trajectories))
    write_template(
        out.group_page,
        "bids_group",
        "group",
        n_participants=sessions.participant_id.nunique(),
        n_sessions=len(sessions),
        figures=trusted(image_links(figures, out.root)),
        change=trusted(change.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.2f}")),
        sessions=trusted(
            sessions.drop(columns=["qc_reasons", "scanner_differs"]).to_html(
                index=False, na_rep="", float_format=lambda v: f"{v:.2f}"
            )
        ),
    )
    console.print(f"{len(sessions)} sessions of {sessions.participant_id.nunique()} participants: {out.group_table}")
    if len(change):
        console.print(f"change over time of {len(change)} participants: {out.group_change}; page {out.group_page}")
    return change

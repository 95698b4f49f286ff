"""The ``ingest`` and ``split`` stages: sources -> manifest + summary; manifest -> folds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import exclude, read_manifest, write_manifest
from brainage.data.splits import SplitConfig, write_splits
from brainage.data.summary import write_summary
from brainage.errors import InputError
from brainage.progress import console


def ingest(kind: str, source: str | Path, out_dir: str | Path, xls: str | Path | None = None, check: bool = True) -> pd.DataFrame:
    """Ingest ``source`` of ``kind`` (``ixi``, ``bids``, ``csv``) into ``out_dir/manifest.csv``.

    Example:
        >>> ingest("ixi", "../shared/data/ixi-hh", "results/ixi")  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    if kind == "ixi":
        from brainage.data.ingest_ixi import ingest_ixi

        manifest, report = ingest_ixi(source, xls, check=check)
        out_dir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"IXI_ID": report.rows_without_scan}).to_csv(out_dir / "ixi_rows_without_scan.csv", index=False)
        extra = (f"IXI.xls rows without a scan here: {len(report.rows_without_scan)}; duplicate IDs with a scan: "
                 f"{len(report.duplicate_ids_agreeing)} agreeing (one row kept), {len(report.duplicate_ids_conflicting)} conflicting (excluded)")
    elif kind == "bids":
        from brainage.data.ingest_bids import ingest_bids

        manifest, extra = ingest_bids(source, check=check), ""
    elif kind == "csv":
        from brainage.data.ingest_csv import ingest_csv

        manifest, extra = ingest_csv(source, check=check), ""
    else:
        raise InputError(None, f"unknown source kind {kind!r} (expected ixi, bids or csv)")
    write_manifest(manifest, out_dir / "manifest.csv")
    text = write_summary(manifest, out_dir)
    if extra:
        text += "\n" + extra
        (out_dir / "summary.txt").write_text(text + "\n")
    console.print(text)
    console.print(f"manifest: {out_dir / 'manifest.csv'}; summary: {out_dir / 'summary.png'}")
    return manifest


def apply_qc(manifest: pd.DataFrame, verdicts_path: str | Path) -> pd.DataFrame:
    """Exclude subjects whose final QC verdict is ``fail``, recording the QC reasons."""
    from brainage.qc.overrides import read_verdicts

    verdicts = read_verdicts(verdicts_path).set_index("subject_id")
    failed = verdicts[verdicts["final_verdict"] == "fail"]
    reason = "QC fail: " + manifest["subject_id"].map(failed["final_reasons"]).fillna("")
    return exclude(manifest, manifest["subject_id"].isin(failed.index), reason)


def split(manifest_path: str | Path, out_dir: str | Path, folds: int = 5, age_bins: int = 4, seed: int = 42,
          qc: str | Path | None = None) -> pd.DataFrame:
    """Stratified folds of the included (and, with ``qc``, QC-passed) subjects into ``out_dir``."""
    manifest = read_manifest(manifest_path)
    if qc is not None:
        manifest = apply_qc(manifest, qc)
        write_manifest(manifest, Path(out_dir) / "manifest_after_qc.csv")
    result = write_splits(manifest, out_dir, SplitConfig(n_folds=folds, age_bins=age_bins, seed=seed))
    balance = pd.read_csv(Path(out_dir) / "fold_balance.csv")
    console.print(balance.round(3).to_string(index=False))
    console.print(pd.read_csv(Path(out_dir) / "split_balance.csv").round(3).to_string(index=False))
    return result

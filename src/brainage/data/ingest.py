"""The ``ingest`` stage: a source (IXI, BIDS, CSV) -> one manifest + a summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import write_manifest
from brainage.data.summary import write_summary
from brainage.errors import InputError
from brainage.files import write_csv
from brainage.layout import IngestDir
from brainage.progress import console


def ingest(
    kind: str,
    source: str | Path,
    out_dir: str | Path,
    xls: str | Path | None = None,
    check: bool = True,
    sex_coding: dict | None = None,
) -> pd.DataFrame:
    """Ingest ``source`` of ``kind`` (``ixi``, ``bids``, ``csv``) into ``out_dir/manifest.csv``.

    ``sex_coding`` maps numeric sex codes of a BIDS or CSV source (``{1: "M", 2: "F"}``);
    IXI's own coding is known.

    Parameters
    ----------
    kind
        What ``source`` is: ``ixi``, ``bids`` or ``csv``.
    source
        The dataset folder (IXI, BIDS) or CSV file.
    out_dir
        Folder for ``manifest.csv``, the exclusion list and the cohort summary.
    xls
        IXI only: the spreadsheet, if not ``source/IXI.xls``.
    check
        Open every image and exclude unreadable ones, with the reason.
    sex_coding
        Map of numeric sex codes to ``M``/``F`` (BIDS, CSV); IXI's coding is known.

    Returns
    -------
    pandas.DataFrame
        The manifest: one row per subject, excluded subjects kept with their reason.

    Example:
        >>> ingest("ixi", "../shared/data/ixi-hh", "results/ixi")  # doctest: +SKIP
    """
    out = IngestDir(out_dir)
    if kind == "ixi":
        from brainage.data.ingest_ixi import ingest_ixi_with_report

        manifest, report = ingest_ixi_with_report(source, xls, check=check)
        write_csv(pd.DataFrame({"IXI_ID": report.rows_without_scan}), out.ixi_rows_without_scan)
        extra = (
            f"IXI.xls rows without a scan here: {len(report.rows_without_scan)}; duplicate IDs with a scan: "
            f"{len(report.duplicate_ids_agreeing)} agreeing (one row kept), "
            f"{len(report.duplicate_ids_conflicting)} conflicting (excluded)"
        )
    elif kind == "bids":
        from brainage.data.ingest_bids import ingest_bids

        manifest, extra = ingest_bids(source, check=check, sex_coding=sex_coding), ""
    elif kind == "csv":
        from brainage.data.ingest_csv import ingest_csv

        manifest, extra = ingest_csv(source, check=check, sex_coding=sex_coding), ""
    else:
        raise InputError(None, f"unknown source kind {kind!r} (expected ixi, bids or csv)")
    write_manifest(manifest, out.manifest)
    text = write_summary(manifest, out, extra)
    console.print(text)
    console.print(f"manifest: {out.manifest}; summary: {out.summary_png}")
    return manifest

"""Cohort summary: counts, exclusions and age histograms by sex and site, as text and PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import included
from brainage.files import write_csv, write_text
from brainage.layout import IngestDir
from brainage.plotting import plt, save_figure


def summary_text(manifest: pd.DataFrame) -> str:
    """Human-readable summary of a manifest, listing every exclusion with its reason."""
    use = included(manifest)
    lines = [
        f"subjects: {len(manifest)} found, {len(use)} usable "
        f"({int((use.sex == 'F').sum())} F / {int((use.sex == 'M').sum())} M)"
    ]
    if len(use):
        lines.append(
            f"age: {use.age.min():.1f}-{use.age.max():.1f} y, mean {use.age.mean():.1f} (sd {use.age.std():.1f})"
        )
        for site, part in use.groupby("site"):
            lines.append(
                f"  site {site}: {len(part)} ({int((part.sex == 'F').sum())} F / {int((part.sex == 'M').sum())} M), "
                f"age {part.age.mean():.1f} +/- {part.age.std():.1f}"
            )
    excluded = manifest[~manifest["included"]]
    lines.append(f"excluded: {len(excluded)}")
    for _, row in excluded.iterrows():
        lines.append(f"  {row.subject_id}: {row.exclusion_reason}")
    return "\n".join(lines)


def plot_summary(manifest: pd.DataFrame, png_path: str | Path) -> Path:
    """Age histogram by sex, one panel per site."""
    use = included(manifest)
    sites = sorted(use.site.unique()) or ["none"]
    fig, axes = plt.subplots(1, len(sites), figsize=(4.5 * len(sites), 3.5), squeeze=False)
    bins = range(int(use.age.min() // 5 * 5), int(use.age.max() // 5 * 5 + 10), 5) if len(use) else 10
    for ax, site in zip(axes[0], sites):
        part = use[use.site == site]
        ax.hist(
            [part[part.sex == "F"].age, part[part.sex == "M"].age],
            bins=bins,
            label=["F", "M"],
            color=["#d95f02", "#1b9e77"],
            stacked=False,
        )
        ax.set(title=f"site {site}: n={len(part)}", xlabel="age (years)", ylabel="subjects")
        ax.legend()
    n_ex = int((~manifest["included"]).sum())
    fig.suptitle(f"{len(use)} usable subjects, {n_ex} excluded")
    return save_figure(fig, png_path, dpi=100)


def write_summary(manifest: pd.DataFrame, out: IngestDir, extra: str = "") -> str:
    """Write the summary text (with ``extra`` lines), its PNG and the exclusion table; return the text."""
    text = summary_text(manifest) + (f"\n{extra}" if extra else "")
    write_text(out.summary_text, text + "\n")
    plot_summary(manifest, out.summary_png)
    write_csv(manifest[~manifest["included"]][["subject_id", "t1_path", "exclusion_reason"]], out.excluded)
    return text

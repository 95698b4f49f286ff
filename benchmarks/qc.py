"""QC benchmark: real IXI-HH heads broken in known ways; does QC flag them, and name the cause?

Scans (``qc_scans.py``): every IXI-HH head, plus broken copies of them (cut field of view, top
zero-filled inside the array, N/2 ghosting, heavy noise, upside down, left-right and front-back
swapped headers, strong bias field, already-stripped inputs with tissue below the brainstem or
skull left on, and correctly stripped inputs as a control), all preprocessed with the default
settings as a new user's batch would be.

Honesty: limits and the orientation model were set on even-numbered IXI IDs (clean scans and
the ``tune`` broken copies) only. Here the yardstick is a reference built from the even-numbered
clean scans; every reported figure is on odd-numbered subjects (``score`` and ``sweep`` copies).

Batches (metrics are per scan, computed once; verdicts depend on the batch):

* ``normal``: every clean IXI-HH head with the scored broken copies (a third broken);
* ``mostly_broken``: the scored broken copies with 10 clean odd heads (over 80% broken);
* ``alone``: each scan judged on its own.

A flag is ``warn`` or ``fail``; the reason is correct when the headline check (the first
reason) is the one for the injected kind. The detection limit of ghosting and bias fields is the
weakest strength from which every stronger one is flagged in at least 3 of 4 scans.

    python benchmarks/qc.py --ixi ../shared/data/ixi-hh --work /tmp/brainage-qc-bench [--clean-pre results/ixi/pre]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd
from _machine import machine_info
from qc_scans import BIAS_SWEEP, GHOST_SWEEP, ixi_number, prepare

from brainage.data.ingest_ixi import ingest_ixi
from brainage.parallel import Executor
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import judge
from brainage.qc.run import measure

EXPECTED_CHECK = {
    "cut_fov": "field_of_view",
    "zero_filled_fov": "field_of_view",
    "ghosting": "ghosting",
    "low_snr": "noise",
    "upside_down": "orientation",
    "left_right_swapped": "orientation",
    "front_back_swapped": "orientation",
    "strong_bias": "nonuniformity",
    "stripped_with_neck": "below_brainstem",
    "stripped_with_skull": "skull_left_in",
}


def load_metrics(combined: Path, work: Path, workers: int, remeasure: bool) -> pd.DataFrame:
    """Every scan's QC metrics, cached in ``WORK/metrics.csv``; only scans not there yet are
    measured (all of them with ``remeasure``)."""
    cache = work / "metrics.csv"
    done = (
        pd.DataFrame(columns=["subject_id"])
        if remeasure or not cache.exists()
        else pd.read_csv(cache, dtype={"subject_id": str})
    )
    wanted = pd.read_csv(combined / "preprocess_report.csv", dtype={"subject_id": str}).subject_id
    todo = sorted(set(wanted) - set(done.subject_id))
    if todo:
        done = pd.concat([done, measure(combined, Executor(workers=workers), subjects=todo)], ignore_index=True)
        done.to_csv(cache, index=False)
    metrics = done[done.subject_id.isin(set(wanted))]
    return measured(metrics)


def describe(metrics: pd.DataFrame, injected: pd.DataFrame, ages: pd.Series) -> pd.DataFrame:
    """Kind, set and strength of every scan (clean heads: kind ``clean``, set ``even``/``odd``)."""
    info = injected.set_index("subject_id")[["source", "set", "params"]].rename(columns={"source": "kind"})
    out = metrics[["subject_id"]].join(info, on="subject_id")
    clean = out["kind"].isna()
    out.loc[clean, "kind"] = "clean"
    out.loc[clean, "set"] = (ixi_number(out.loc[clean, "subject_id"]) % 2).map({0: "even", 1: "odd"})
    out["age"] = out["subject_id"].map(ages)
    return out.set_index("subject_id")


def judge_batches(metrics: pd.DataFrame, scans: pd.DataFrame, reference: Reference) -> dict[str, pd.DataFrame]:
    m = metrics.set_index("subject_id")
    scored = scans.index[scans["set"] == "score"]
    clean = scans.index[scans["kind"] == "clean"]
    odd_clean = scans.index[(scans["kind"] == "clean") & (scans["set"] == "odd")]
    broken = scans.index[(scans["set"] == "score") & (scans["kind"] != "stripped_clean")]
    few_clean = sorted(odd_clean)[:10]
    batches = {"normal": list(clean) + list(scored), "mostly_broken": list(scored) + few_clean}
    out = {name: judge(m.loc[ids].reset_index(), reference).set_index("subject_id") for name, ids in batches.items()}
    share = len(broken) / len(batches["mostly_broken"])
    print(f"mostly_broken batch: {len(batches['mostly_broken'])} scans, {share:.0%} broken")
    alone_ids = list(scored) + list(odd_clean) + list(scans.index[scans["set"] == "sweep"])
    out["alone"] = pd.concat([judge(m.loc[[i]].reset_index(), reference) for i in alone_ids]).set_index("subject_id")
    return out


def score(verdicts: pd.DataFrame, scans: pd.DataFrame) -> pd.DataFrame:
    v = verdicts.join(scans, how="inner")
    v["flagged"] = v["verdict"] != "pass"
    v["right_reason"] = v.apply(lambda r: r["check"] == EXPECTED_CHECK.get(r["kind"], ""), axis=1)
    rows = []
    for (set_name, kind), g in v[v["set"].isin(["score", "odd"])].groupby(["set", "kind"]):
        rows.append(
            {
                "kind": kind if kind != "clean" else "clean (odd IDs)",
                "n": len(g),
                "flagged": int(g.flagged.sum()),
                "failed": int((g.verdict == "fail").sum()),
                "right_reason": int((g.flagged & g.right_reason).sum()),
            }
        )
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> dict:
    broken = table[table.kind.isin(EXPECTED_CHECK)]
    clean = table[table.kind == "clean (odd IDs)"]
    stripped = table[table.kind == "stripped_clean"]
    return {
        "broken_scans": int(broken.n.sum()),
        "flagged": round(float(broken.flagged.sum() / broken.n.sum()), 4),
        "right_reason_of_flagged": round(float(broken.right_reason.sum() / max(broken.flagged.sum(), 1)), 4),
        "right_reason_of_all": round(float(broken.right_reason.sum() / broken.n.sum()), 4),
        "false_flags_clean_odd": round(float(clean.flagged.sum() / clean.n.sum()), 4) if len(clean) else None,
        "false_flags_stripped_clean": round(float(stripped.flagged.sum() / stripped.n.sum()), 4)
        if len(stripped)
        else None,
    }


def detection_limits(alone: pd.DataFrame, scans: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    v = alone.join(scans, how="inner")
    v = v[v["set"] == "sweep"].copy()
    v["strength"] = v["params"].map(lambda p: next(iter(json.loads(p).values())))
    v["flagged"] = v["verdict"] != "pass"
    v["right_reason"] = v["check"] == v["kind"].map(EXPECTED_CHECK)
    table = (
        v.groupby(["kind", "strength"])
        .agg(n=("flagged", "size"), flagged=("flagged", "sum"), right_reason=("right_reason", "sum"))
        .reset_index()
    )
    limits = {}
    for kind, levels in (("ghosting", GHOST_SWEEP), ("strong_bias", BIAS_SWEEP)):
        t = table[table.kind == kind].set_index("strength")
        ok = [s for s in levels if s in t.index and t.at[s, "flagged"] >= 0.75 * t.at[s, "n"]]
        limit = None
        for s in sorted(levels, reverse=True):
            if s not in ok:
                break
            limit = s
        limits[kind] = limit
    return table, limits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ixi", type=Path, default=Path("../shared/data/ixi-hh"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/brainage-qc-bench"))
    ap.add_argument(
        "--clean-pre",
        type=Path,
        default=None,
        help="an existing default-settings `brainage preprocess` of IXI-HH (reused for the clean scans)",
    )
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--tune-per-kind", type=int, default=4)
    ap.add_argument("--sweep-n", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--remeasure", action="store_true", help="recompute QC metrics (after changing them)")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "qc_cpu.json")
    args = ap.parse_args()
    os.environ.setdefault("BRAINAGE_NO_PROGRESS", "1")
    start = time.time()
    manifest = ingest_ixi(args.ixi, check=False)
    combined, injected = prepare(
        manifest,
        args.ixi,
        args.work,
        args.per_kind,
        args.tune_per_kind,
        args.sweep_n,
        args.seed,
        args.workers,
        args.clean_pre,
    )
    metrics = load_metrics(combined, args.work, args.workers, args.remeasure)
    scans = describe(metrics, injected, manifest.set_index("subject_id")["age"])
    even_clean = metrics[metrics.subject_id.isin(scans.index[(scans.kind == "clean") & (scans.set == "even")])]
    reference = Reference.build(even_clean, "IXI-HH even IDs (benchmark)", "limits' own data; scored scans are odd")
    batches = judge_batches(metrics, scans, reference)
    results = {}
    for name, verdicts in batches.items():
        table = score(verdicts, scans)
        results[name] = {"table": table.to_dict("records"), "summary": summary(table)}
        print(f"\n== {name} batch ==\n{table.to_string(index=False)}\n{json.dumps(results[name]['summary'])}")
    agree = batches["alone"][["verdict", "check"]].join(
        batches["mostly_broken"][["verdict", "check"]].rename(columns=lambda c: c + "_mb"), how="inner"
    )
    agree = agree.join(batches["normal"][["verdict", "check"]].rename(columns=lambda c: c + "_n"), how="inner")
    same = (
        (agree.verdict == agree.verdict_mb)
        & (agree.verdict == agree.verdict_n)
        & (agree.check == agree.check_mb)
        & (agree.check == agree.check_n)
    )
    consistency = {"scans_in_all_three_batches": len(agree), "same_verdict_and_reason": int(same.sum())}
    print(f"\njudged alike alone, in the normal and in the mostly broken batch: {consistency}")
    oldest = (
        scans[(scans.kind == "clean") & scans.age.notna()]
        .sort_values("age")
        .tail(int(round(0.1 * scans[(scans.kind == "clean") & scans.age.notna()].shape[0])))
    )
    normal = batches["normal"]
    registration_flags = {
        i: normal.at[i, "reasons"] for i in oldest.index if "registration" in str(normal.at[i, "checks"])
    }
    print(
        f"oldest tenth of IXI-HH ({len(oldest)} scans, {oldest.age.min():.1f}-{oldest.age.max():.1f} y): "
        f"{len(registration_flags)} with a registration finding"
    )
    sweep, limits = detection_limits(batches["alone"], scans)
    print(f"\n== detection limits (each scan judged alone) ==\n{sweep.to_string(index=False)}\n{limits}")
    flagged_clean = normal[
        (normal.index.isin(scans.index[(scans.kind == "clean") & (scans.set == "odd")])) & (normal.verdict != "pass")
    ]
    wrong = {}
    for name, verdicts in batches.items():
        v = verdicts.join(scans, how="inner")
        bad = v[
            (v["set"] == "score")
            & v.kind.isin(EXPECTED_CHECK)
            & ((v.verdict == "pass") | (v.check != v.kind.map(EXPECTED_CHECK)))
        ]
        wrong[name] = {i: f"{r.kind}: {r.verdict} {r.reasons}" for i, r in bad.iterrows()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "qc",
                "machine": machine_info(),
                "seconds": round(time.time() - start),
                "seed": args.seed,
                "per_kind": args.per_kind,
                "reference": {"name": reference.name, "n": len(reference.subjects)},
                "batches": results,
                "consistency": consistency,
                "oldest_tenth": {
                    "n": len(oldest),
                    "age_range": [float(oldest.age.min()), float(oldest.age.max())],
                    "registration_findings": registration_flags,
                },
                "detection": {"table": sweep.to_dict("records"), "limits": limits},
                "flagged_clean_odd": {i: r for i, r in flagged_clean.reasons.items()},
                "missed_or_wrong_reason": wrong,
            },
            indent=1,
            default=str,
        )
    )
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()

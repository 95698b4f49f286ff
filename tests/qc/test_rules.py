"""Verdicts against the normative reference: one named reason per failure, and the same verdict
whether a scan arrives alone, in a clean batch or in a mostly broken one."""

import numpy as np
import pandas as pd
import pytest

from brainage.qc.reference import BATCH_MIN_SIZE, Reference, batch_is_trusted
from brainage.qc.rules import judge


@pytest.fixture(scope="module")
def reference():
    return Reference.load()


def clean_scans(
    reference: Reference, n: int, site: str = "A", seed: int = 0, shift: dict | None = None
) -> pd.DataFrame:
    """``n`` scans drawn around the reference's medians (within half its spread)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row = {"subject_id": f"{site}{i:03d}", "site": site, "input_skull_stripped": False}
        for metric, s in reference.stats.items():
            row[metric] = s.median + 0.5 * s.spread * rng.uniform(-1, 1)
        row.update(
            fov_contact_mm2=0.0,
            below_brainstem_ml=0.0,
            outside_template_ml=1.0,
            holes_ml=0.0,
            n_components=1.0,
            upside_down_gain=-0.09,
            front_back_gain=-0.06,
            left_right_score=1.0,
            rotation_deg=10.0,
        )
        for metric, delta in (shift or {}).items():
            row[metric] += delta
        rows.append(row)
    return pd.DataFrame(rows)


BROKEN = {
    "noise": {"noise_ratio": 0.2},
    "ghosting": {"ghost_ratio": 0.2},
    "field_of_view": {"fov_contact_mm2": 2000.0},
    "orientation": {"upside_down_gain": 0.08, "dice_template": 0.85},
    "below_brainstem": {"below_brainstem_ml": 30.0},
    "nonuniformity": {"wm_bias_range": 0.8},
}


def broken_scans(reference, site="A"):
    rows = clean_scans(reference, len(BROKEN), site, seed=1)
    for i, (kind, values) in enumerate(BROKEN.items()):
        rows.loc[i, "subject_id"] = f"broken-{kind}"
        for metric, value in values.items():
            rows.loc[i, metric] = value
    return rows


def test_every_kind_is_named_and_the_cause_leads(reference):
    verdicts = judge(broken_scans(reference), reference).set_index("subject_id")
    for kind in BROKEN:
        assert verdicts.at[f"broken-{kind}", "verdict"] == "fail"
        assert verdicts.at[f"broken-{kind}", "check"] == kind, verdicts.at[f"broken-{kind}", "reasons"]
    # upside down also spoils the registration: the cause comes first, the symptom after
    assert verdicts.at["broken-orientation", "checks"].split() == ["orientation", "registration"]
    assert "upside down" in verdicts.at["broken-orientation", "reasons"].split(";")[0]


def test_clean_scans_pass(reference):
    verdicts = judge(clean_scans(reference, 30), reference)
    assert (verdicts.verdict == "pass").all(), verdicts.reasons[verdicts.verdict != "pass"].tolist()


def test_a_scan_is_judged_alike_alone_in_a_clean_batch_and_in_a_mostly_broken_batch(reference):
    broken = broken_scans(reference)
    alone = pd.concat([judge(broken.iloc[[i]], reference) for i in range(len(broken))]).set_index("subject_id")
    clean_batch = judge(pd.concat([clean_scans(reference, 40), broken]), reference).set_index("subject_id")
    # 30 of 36 broken, as in the batch that fooled the batch-only yardstick
    mostly_broken = pd.concat([broken] * 5, ignore_index=True)
    mostly_broken["subject_id"] = [f"{s}-{i}" for i, s in enumerate(mostly_broken.subject_id)]
    mostly_broken = judge(pd.concat([mostly_broken, clean_scans(reference, 6)]), reference)
    assert (mostly_broken.yardstick == "reference").all()
    for sid in broken.subject_id:
        copies = mostly_broken[mostly_broken.subject_id.str.startswith(sid + "-")]
        assert (copies.verdict == alone.at[sid, "verdict"]).all() and (copies.check == alone.at[sid, "check"]).all()
        assert clean_batch.at[sid, "verdict"] == alone.at[sid, "verdict"] == "fail"
        assert clean_batch.at[sid, "check"] == alone.at[sid, "check"]


def test_a_large_clean_site_that_differs_from_the_reference_raises_no_flags(reference):
    # a new scanner: contrast systematically unlike IXI-HH, but every absolute check passes
    site = clean_scans(reference, 30, site="B", shift={"cjv": 8 * reference.stats["cjv"].spread})
    alone = judge(site.iloc[[0]], reference)
    assert alone.verdict.iloc[0] == "warn" and alone.check.iloc[0] == "contrast"
    together = judge(site, reference)
    assert (together.yardstick == "reference and site").all()
    assert (together.verdict == "pass").all()


def test_batch_trust_needs_size_and_a_clean_majority():
    assert batch_is_trusted(BATCH_MIN_SIZE, BATCH_MIN_SIZE)
    assert not batch_is_trusted(BATCH_MIN_SIZE - 1, BATCH_MIN_SIZE - 1)
    assert not batch_is_trusted(100, 70)


def test_reference_round_trip(reference, tmp_path):
    scans = clean_scans(reference, 25)
    built = Reference.build(scans, "site A", "test", exclusions={"A000": "rated fail"})
    again = Reference.load(built.save(tmp_path / "ref.json"))
    assert again.stats["cjv"] == built.stats["cjv"] and len(again.subjects) == 24
    assert again.exclusions == {"A000": "rated fail"}


def test_qc_reference_command_builds_from_reviewed_folders(reference, tmp_path):
    from brainage.cli import main
    from brainage.errors import InputError
    from brainage.layout import QCDir

    qc = QCDir(tmp_path / "qc")
    qc.root.mkdir()
    scans = clean_scans(reference, 25, site="B")
    scans.assign(qc_error="").to_csv(qc.metrics, index=False)
    verdicts = judge(scans, reference)[["subject_id", "site", "verdict", "reasons"]]
    verdicts = verdicts.assign(final_verdict=verdicts.verdict, final_reasons=verdicts.reasons, override="")
    verdicts.loc[0, ["final_verdict", "final_reasons"]] = ["fail", "override by reviewer: motion"]
    verdicts.to_csv(qc.verdicts, index=False)
    out = tmp_path / "site_b.json"
    assert main(["qc-reference", str(qc.root), "--out", str(out), "--name", "site B"]) == 0
    built = Reference.load(out)
    assert built.name == "site B" and len(built.subjects) == 24
    assert built.exclusions == {"B000": "QC fail: override by reviewer: motion"}
    with pytest.raises(InputError, match="at least 20 clean scans"):
        Reference.build(scans.head(5), "too few", "")


def test_each_contrast_check_fires_just_past_its_limit_and_not_before(reference):
    """The clean scans above sit well inside the reference; here each scanner-dependent metric is
    put just inside and just outside its robust-z limit, alone, so the z-checks must decide."""
    from brainage.qc.checks import CHECKS, Z_METRICS, Z_WARN

    base = clean_scans(reference, 1)
    for metric, floor in Z_METRICS.items():
        stats = reference.stats[metric]
        spread = max(stats.spread, floor, 1e-9)
        for signal in (s for c in CHECKS for s in c.signals if s.metric == metric and s.kind == "z"):
            direction = 1 if signal.bad == "high" else -1
            inside = judge(base.assign(**{metric: stats.median + direction * (Z_WARN - 0.5) * spread}), reference)
            outside = judge(base.assign(**{metric: stats.median + direction * (Z_WARN + 0.5) * spread}), reference)
            assert inside.verdict.iloc[0] == "pass", (metric, inside.reasons.iloc[0])
            assert outside.verdict.iloc[0] == "warn" and outside.scanner_differs.iloc[0], (
                metric,
                outside.reasons.iloc[0],
            )

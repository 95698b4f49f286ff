import nibabel as nib
import numpy as np
import pandas as pd
from scipy import stats

from brainage.data.ingest_bids import ingest_bids


def test_synthetic_cohort_is_bids_with_learnable_signal(synth_cohort):
    participants = pd.read_csv(synth_cohort / "participants.tsv", sep="\t")
    assert len(participants) == 8 and set(participants.sex) == {"F", "M"}
    manifest = ingest_bids(synth_cohort)
    assert manifest.included.all()
    volumes, csf = [], []
    for pid in participants.participant_id:
        mask = nib.load(str(synth_cohort / "derivatives" / "synth" / f"{pid}_desc-brain_mask.nii.gz")).get_fdata() > 0
        t1 = nib.load(str(synth_cohort / pid / "anat" / f"{pid}_T1w.nii.gz")).get_fdata()
        volumes.append(mask.sum() * 8 / 1000)
        wm_level = np.percentile(t1[mask], 90)
        csf.append(np.mean(t1[mask] < 0.35 * wm_level))  # dark (CSF) fraction of the brain
    participants["volume"], participants["csf"] = volumes, csf
    # sex-driven size: men larger on average; plausible adult brain volumes
    assert participants[participants.sex == "M"].volume.mean() > participants[participants.sex == "F"].volume.mean()
    assert 850 < participants.volume.min() and participants.volume.max() < 2100
    # age-driven atrophy: more CSF with age
    assert stats.spearmanr(participants.age, participants.csf)[0] > 0.6
    img = nib.load(str(synth_cohort / "sub-001" / "anat" / "sub-001_T1w.nii.gz"))
    assert img.header.get_zooms()[:3] == (2.0, 2.0, 2.0)


def test_the_sex_pattern_moves_grey_matter_both_ways_and_keeps_tissue_totals():
    """Beyond size, sex moves grey matter's share along one fixed regional pattern: women's heads
    are darker (more grey matter) where the pattern is positive and brighter where it is negative."""
    from brainage.data.synth import SynthConfig, TemplateAnatomy

    anatomy, cfg = TemplateAnatomy(), SynthConfig()
    female, _ = anatomy.head(50.0, 0.0, 0.0, cfg, np.random.default_rng(0), sex_strength=cfg.sex_pattern)
    male, _ = anatomy.head(50.0, 0.0, 0.0, cfg, np.random.default_rng(0), sex_strength=-cfg.sex_pattern)
    field = anatomy.sex_field(cfg.sex_pattern_mm)
    positive, negative = anatomy.brain & (field > 0.3), anatomy.brain & (field < -0.3)
    assert positive.sum() > 1000 and negative.sum() > 1000
    assert (female - male)[positive].mean() < -0.005 < 0.005 < (female - male)[negative].mean()
    # grey and white matter trade places; the brain's size and its CSF do not change
    assert abs((female - male)[anatomy.brain].mean()) < 0.01

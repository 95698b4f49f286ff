"""A synthetic cohort with a real, learnable age and sex signal (``brainage synth``).

Built from the MNI152 2009a template and grey/white-matter maps that ship inside nilearn (no
download). The generative model, per subject with age ``a`` and ``d = (a - 20) / 10`` decades:

* **Tissue**: GM and WM probabilities from the template, CSF = brain mask - GM - WM.
* **Atrophy** (age): GM loses ``gm_loss_per_decade * d`` of its probability to CSF (sulcal
  widening, strongest at the cortical surface, where it is weighted 1.5x); WM loses
  ``wm_loss_per_decade * d``; the lateral ventricles grow outwards by
  ``ventricle_growth_mm_per_decade * d`` mm. Each subject also gets its own random offset on both
  (``atrophy_sd``, ``ventricle_sd_mm``), so age is learnable but not a lookup.
* **Sex**: men have a larger head and brain (isotropic scale ``male_scale`` vs 1.0, on top of
  ``base_scale``, which brings the MNI brain (1.88 l) to ~1.15 l, ~1.35 l with the CSF rim a
  brain extractor keeps: a typical adult woman's intracranial volume; men's brains are ~12 %
  larger, and ``scale_sd`` between people makes volume alone tell sex apart only ~70 % of the
  time, as in real cohorts) and a slightly longer front-to-back shape (``male_ap_stretch``).
  Beyond size, a fixed smooth regional pattern (``sex_pattern``, the same for everyone: blobs of
  ~``sex_pattern_mm`` across) moves grey matter's share of the grey/white mixture by up to
  ``sex_pattern`` one way in women and the other way in men, with each person's own strength
  drawn around it (``sex_pattern_sd``). It stands in for the regional grey-matter differences
  reported after head size is accounted for, so a model must read anatomy, not only size, to
  beat a brain-volume classifier.
* **Head**: CSF rim, dark skull, bright scalp fat in shells around the brain, eyes, and a neck
  down to the bottom of the field of view, so brain extraction has real work to do.
* **Acquisition** (:mod:`brainage.data.corruptions`): random pose (rotation up to
  ``max_rotation_deg``, shift up to ``max_shift_mm``), a smooth multiplicative bias field
  (torchio's order-2 polynomial field, ``bias_strength``; white matter
  brightens by up to ~1.5x across the brain, like clean IXI-HH scans), Rician noise
  (``noise_sd`` of white-matter intensity), written at ``voxel_mm`` (2 mm) as int16 NIfTI.
* **Broken subjects** (``n_broken``): a few heads with a QC failure injected
  (:mod:`brainage.data.inject`), recorded in ``derivatives/synth/subjects.tsv``.

Outputs a BIDS folder: ``participants.tsv``, ``sub-XXX/anat/sub-XXX_T1w.nii.gz`` and the true
brain masks and parameters under ``derivatives/synth/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from brainage.config import save_config
from brainage.data import corruptions
from brainage.data.inject import HEAD_FAILURES
from brainage.files import atomic_path, write_csv, write_json
from brainage.layout import CohortDir
from brainage.progress import track

TISSUE_T1 = {"wm": 1.0, "gm": 0.62, "csf": 0.18, "skull": 0.07, "scalp": 0.85, "muscle": 0.45, "eye": 0.15}
#: Padding (template voxels) around the MNI brain for skull, scalp and neck.
PAD = 14


@dataclass
class SynthConfig:
    """Parameters of the generative model (see the module docstring)."""

    n_subjects: int = 60
    seed: int = 0
    age_min: float = 20.0
    age_max: float = 85.0
    voxel_mm: float = 2.0
    shape: tuple = (96, 112, 96)
    gm_loss_per_decade: float = 0.05
    wm_loss_per_decade: float = 0.02
    ventricle_growth_mm_per_decade: float = 1.0
    atrophy_sd: float = 0.04
    ventricle_sd_mm: float = 1.0
    base_scale: float = 0.85
    male_scale: float = 1.04
    male_ap_stretch: float = 1.02
    scale_sd: float = 0.035
    sex_pattern: float = 0.25
    sex_pattern_mm: float = 16.0
    sex_pattern_sd: float = 0.5
    max_rotation_deg: float = 10.0
    max_shift_mm: float = 8.0
    bias_strength: float = 0.15
    noise_sd: float = 0.03
    n_broken: int = 0
    broken_kinds: list = field(default_factory=lambda: list(HEAD_FAILURES))
    #: Sessions per subject (``ses-1`` ...), each the same head aged by ``years_between_sessions``;
    #: 1 writes no session level, as before.
    sessions: int = 1
    years_between_sessions: float = 4.0


class TemplateAnatomy:
    """Tissue maps on the padded 2 mm MNI grid, computed once and shared by all subjects."""

    def __init__(self):
        from nilearn import datasets  # local: importing nilearn is slow and only synth needs it here

        def load(fn):
            return np.pad(fn(resolution=2).get_fdata(dtype=np.float32), PAD)

        self.gm = np.clip(load(datasets.load_mni152_gm_template), 0, 1)
        self.wm = np.clip(load(datasets.load_mni152_wm_template), 0, 1)
        self.brain = load(datasets.load_mni152_brain_mask) > 0.5
        self.csf = np.clip(self.brain - self.gm - self.wm, 0, 1)
        self.zoom = 2.0
        depth = ndimage.distance_transform_edt(self.brain) * self.zoom
        self.depth = depth  # mm from the brain surface, inside the brain
        core = (self.csf > 0.5) & (depth > 12)
        labels, n = ndimage.label(core)
        sizes = ndimage.sum(core, labels, range(1, n + 1))
        # The two largest deep CSF components are the lateral ventricles.
        keep = np.argsort(sizes)[-2:] + 1
        self.ventricles = np.isin(labels, keep)
        self.dist_ventricles = ndimage.distance_transform_edt(~self.ventricles) * self.zoom
        self.dist_outside = ndimage.distance_transform_edt(~self.brain) * self.zoom
        # Template voxel -> mm, with the origin at the brain's centre of mass.
        com = np.array(ndimage.center_of_mass(self.brain))
        self.vox_to_mm = np.diag([self.zoom] * 3 + [1.0])
        self.vox_to_mm[:3, 3] = -com * self.zoom
        zs = np.nonzero(self.brain.any(axis=(0, 1)))[0]
        self.brain_bottom = int(zs[0])
        self._sex_fields: dict[float, np.ndarray] = {}

    def sex_field(self, blob_mm: float) -> np.ndarray:
        """The fixed regional sex pattern in [-1, 1]: smoothed noise of a constant seed, so every
        subject and every cohort share it."""
        if blob_mm not in self._sex_fields:
            noise = np.random.default_rng(20260101).standard_normal(self.brain.shape).astype(np.float32)
            field = ndimage.gaussian_filter(noise, blob_mm / self.zoom / 2.355)
            self._sex_fields[blob_mm] = np.clip(field / (3 * field[self.brain].std()), -1, 1)
        return self._sex_fields[blob_mm]

    def head(
        self, age: float, atrophy: float, vent_mm: float, cfg: SynthConfig, rng, sex_strength: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """T1 intensity and brain mask of one subject, in padded template space. ``sex_strength``:
        how far grey matter's share moves along the sex pattern (positive: the female direction)."""
        decades = (age - cfg.age_min) / 10.0
        surface_weight = 1.0 + 0.5 * np.exp(-self.depth / 4.0)
        gm_loss = np.clip((cfg.gm_loss_per_decade * decades + atrophy) * surface_weight, 0, 0.8)
        wm_loss = np.clip(cfg.wm_loss_per_decade * decades + atrophy / 2, 0, 0.5)
        radius = max(cfg.ventricle_growth_mm_per_decade * decades + vent_mm, 0.0)
        ventricle = np.clip((radius - self.dist_ventricles) / self.zoom + 0.5, 0, 1) * self.brain
        gm = self.gm * (1 - gm_loss) * (1 - ventricle)
        wm = self.wm * (1 - wm_loss) * (1 - ventricle)
        if sex_strength:  # grey matter's share of the grey/white mixture, moved where the pattern says
            moved = np.clip(sex_strength * self.sex_field(cfg.sex_pattern_mm), -1, 1) * np.minimum(gm, wm)
            gm, wm = gm + moved, wm - moved
        csf = np.clip(self.brain - gm - wm, 0, 1)
        # Smooth per-subject texture so tissue is not perfectly flat.
        texture = 1 + 0.04 * ndimage.gaussian_filter(rng.standard_normal(gm.shape).astype(np.float32), 1.5) * 4
        t1 = (gm * TISSUE_T1["gm"] + wm * TISSUE_T1["wm"] + csf * TISSUE_T1["csf"]) * texture
        out = self.dist_outside
        head = np.where(self.brain, t1, 0)
        head += np.where((out > 0) & (out <= 3), TISSUE_T1["csf"], 0)
        head += np.where((out > 3) & (out <= 9), TISSUE_T1["skull"], 0)
        head += np.where((out > 9) & (out <= 15), TISSUE_T1["scalp"], 0)
        # Neck: a column of muscle under the brainstem, wrapped in scalp, to the bottom of the grid.
        xy = np.indices(head.shape[:2])
        cx, cy = np.array(ndimage.center_of_mass(self.brain[:, :, self.brain_bottom + 2]))
        r = np.hypot((xy[0] - cx) / 24, (xy[1] - cy) / 28)
        neck_zone = np.zeros(head.shape, bool)
        neck_zone[:, :, : self.brain_bottom + 12] = True
        neck = neck_zone & (out > 0) & (r[..., None] < 1.0)
        head = np.where(neck, np.where(r[..., None] > 0.8, TISSUE_T1["scalp"], TISSUE_T1["muscle"]), head)
        # Eyes: dark globes in front of the frontal lobes, wrapped in bright orbital fat.
        ys = np.nonzero(self.brain.any(axis=(0, 2)))[0]
        centre_x = head.shape[0] / 2
        for side in (-1, 1):
            c = np.array([centre_x + side * 16, ys[-1] - 4, self.brain_bottom + 22])
            d = np.sqrt(((np.indices(head.shape) - c[:, None, None, None]) ** 2).sum(0)) * self.zoom
            head = np.where(d < 16, TISSUE_T1["scalp"], head)
            head = np.where(d < 12, TISSUE_T1["eye"], head)
        return head.astype(np.float32), self.brain.astype(np.float32)


def _rotation(angles_deg: np.ndarray) -> np.ndarray:
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def render_subject(anatomy: TemplateAnatomy, age: float, sex: str, cfg: SynthConfig, rng) -> dict:
    """Render one synthetic head; returns data, brain mask, affine and the parameters drawn."""
    atrophy = rng.normal(0, cfg.atrophy_sd)
    vent = rng.normal(0, cfg.ventricle_sd_mm)
    direction = 1.0 if sex == "F" else -1.0
    strength = cfg.sex_pattern * rng.normal(1.0, cfg.sex_pattern_sd) * direction
    head, brain = anatomy.head(age, atrophy, vent, cfg, rng, sex_strength=strength)
    scale = cfg.base_scale * (cfg.male_scale if sex == "M" else 1.0) * rng.normal(1.0, cfg.scale_sd)
    stretch = np.array([1.0, cfg.male_ap_stretch if sex == "M" else 1.0, 1.0])
    angles = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg, 3)
    shift = rng.uniform(-cfg.max_shift_mm, cfg.max_shift_mm, 3)
    # subject mm = R @ S @ template mm + shift; output grid is centred on the origin.
    forward = np.eye(4)
    forward[:3, :3] = _rotation(angles) @ np.diag(scale * stretch)
    forward[:3, 3] = shift
    out_affine = np.diag([cfg.voxel_mm] * 3 + [1.0])
    out_affine[:3, 3] = -(np.array(cfg.shape) - 1) / 2 * cfg.voxel_mm
    # For each output voxel, where to sample in template voxels.
    sample = np.linalg.inv(anatomy.vox_to_mm) @ np.linalg.inv(forward) @ out_affine
    data = ndimage.affine_transform(head, sample[:3, :3], sample[:3, 3], output_shape=cfg.shape, order=1)
    mask = ndimage.affine_transform(brain, sample[:3, :3], sample[:3, 3], output_shape=cfg.shape, order=1) > 0.5
    # a smooth coil bias (exp of a random quadratic polynomial), then the magnitude image's noise
    data = corruptions.apply(corruptions.polynomial_bias_field(cfg.bias_strength, rng), data, out_affine)
    data = corruptions.apply(corruptions.RicianNoise(cfg.noise_sd * TISSUE_T1["wm"], rng), data, out_affine)
    return {
        "data": data.astype(np.float32),
        "mask": mask,
        "affine": out_affine,
        "params": {
            "scale": scale,
            "rotation_deg": np.round(angles, 2).tolist(),
            "shift_mm": np.round(shift, 2).tolist(),
            "atrophy_offset": atrophy,
            "ventricle_offset_mm": vent,
            "sex_pattern_strength": strength,
        },
    }


def _save(data: np.ndarray, affine: np.ndarray, path: Path, dtype=np.int16) -> None:
    if dtype == np.int16:
        data = np.round(data / max(float(data.max()), 1e-6) * 1000)
    img = nib.Nifti1Image(data.astype(dtype), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


def make_cohort(out_dir: str | Path, config: SynthConfig = SynthConfig()) -> pd.DataFrame:
    """Write a synthetic BIDS cohort to ``out_dir`` and return its participants table.

    Parameters
    ----------
    out_dir
        The BIDS folder to write.
    config
        Cohort size, ages, anatomy, acquisition and injected failures (:class:`SynthConfig`).

    Returns
    -------
    pandas.DataFrame
        The participants table (``participant_id, age, sex, ...``).

    Example:
        >>> make_cohort("results/demo/cohort", SynthConfig(n_subjects=20, seed=1))  # doctest: +SKIP
    """
    cohort = CohortDir(out_dir)
    rng = np.random.default_rng(config.seed)
    anatomy = TemplateAnatomy()
    n = config.n_subjects
    ages = rng.uniform(config.age_min, config.age_max, n)
    sexes = np.array(["F", "M"] * (n // 2 + 1))[:n]
    rng.shuffle(sexes)
    broken_idx = set(rng.choice(n, size=min(config.n_broken, n), replace=False).tolist()) if config.n_broken else set()
    kinds = list(config.broken_kinds)
    rows, truth = [], []
    for i in track(range(n), description="synthesising heads"):
        sid = f"sub-{i + 1:03d}"
        visits, injected = [], ""
        for k in range(max(1, config.sessions)):
            # the same draws for every session (one head), only older: the subject's own random stream
            subject_rng = np.random.default_rng([config.seed, i])
            age = float(ages[i]) + k * config.years_between_sessions
            sub = render_subject(anatomy, age, str(sexes[i]), config, subject_rng)
            data, affine = sub["data"], sub["affine"]
            failure = ""
            if i in broken_idx and k == 0:  # a broken first session; the follow-ups are clean
                failure = injected = kinds[sorted(broken_idx).index(i) % len(kinds)]
                data, affine = HEAD_FAILURES[failure](data, affine, rng=subject_rng)
            session = f"ses-{k + 1}" if config.sessions > 1 else None
            _save(data, affine, cohort.t1(sid, session))
            if not failure:
                _save(sub["mask"].astype(np.uint8), affine, cohort.true_brain_mask(sid, session), np.uint8)
            visits.append({"session_id": session, "age": round(age, 2)})
        if config.sessions > 1:
            write_csv(pd.DataFrame(visits), cohort.sessions(sid), sep="\t")
        rows.append({"participant_id": sid, "age": round(float(ages[i]), 2), "sex": sexes[i], "site": "synth"})
        truth.append({"participant_id": sid, "injected_failure": injected, **sub["params"]})
    participants = pd.DataFrame(rows)
    write_csv(participants, cohort.participants, sep="\t")
    write_csv(pd.DataFrame(truth), cohort.synth_truth, sep="\t")
    save_config(config, cohort.synth_config)
    write_json(
        cohort.description,
        {
            "Name": "brainage synthetic cohort",
            "BIDSVersion": "1.9.0",
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "brainage synth"}],
        },
    )
    return participants

"""IQMs behave as their definitions say on controlled images."""

import nibabel as nib
import numpy as np

from brainage.qc.metrics import compute_iqms, efc


def _phantom(noise: float, seed: int = 0):
    """Head phantom: air, scalp shell, CSF/GM/WM layers in a sphere; known intensities."""
    shape = (64, 72, 64)
    idx = np.indices(shape).astype(float)
    r = np.sqrt(((idx - (np.array(shape)[:, None, None, None] - 1) / 2) ** 2).sum(0))
    img = np.zeros(shape, np.float32)
    img[r < 30] = 0.8  # scalp
    img[r < 26] = 0.05  # skull
    img[r < 24] = 0.2  # CSF
    img[r < 22] = 0.6  # GM
    img[r < 16] = 1.0  # WM
    rng = np.random.default_rng(seed)
    noisy = np.sqrt((img + rng.normal(0, noise, shape)) ** 2 + rng.normal(0, noise, shape) ** 2).astype(np.float32)
    brain = r < 24
    return nib.Nifti1Image(noisy * 1000, np.diag([2.0, 2.0, 2.0, 1.0])), brain


def _iqms(noise, field=None):
    img, brain = _phantom(noise)
    data = img.get_fdata(dtype=np.float32)
    field = np.ones_like(data) if field is None else field
    return compute_iqms(data * field, brain, field, img, stripped=False)


def test_noise_lowers_snr_and_cnr_and_raises_cjv():
    clean, noisy = _iqms(0.02), _iqms(0.10)
    assert noisy["snr_total"] < clean["snr_total"] / 2
    assert noisy["snrd_total"] < clean["snrd_total"] / 2
    assert noisy["cnr"] < clean["cnr"] and noisy["cjv"] > clean["cjv"]
    assert noisy["fber"] < clean["fber"]


def test_bias_field_range_is_reported():
    img, _ = _phantom(0.02)
    ramp = np.exp(np.linspace(-1.0, 1.0, 64))[:, None, None] * np.ones((64, 72, 64), np.float32)
    assert _iqms(0.02, ramp)["inu_range"] > 0.8 > _iqms(0.02)["inu_range"]


def test_efc_higher_for_spread_out_energy():
    focused = np.zeros((20, 20, 20))
    focused[8:12, 8:12, 8:12] = 1
    spread = np.ones((20, 20, 20))
    assert efc(spread) > efc(focused)


def test_stripped_input_has_no_air_metrics():
    img, brain = _phantom(0.02)
    data = np.where(brain, img.get_fdata(dtype=np.float32), 0)
    out = compute_iqms(data, brain, np.ones_like(data), img, stripped=True)
    assert np.isnan(out["snrd_total"]) and np.isnan(out["fber"]) and out["snr_total"] > 0


def test_ghost_ratio_sees_ghosts_and_not_noise():
    from brainage.data.inject import ghosting
    from brainage.qc.metrics import ghost_ratio

    img, _ = _phantom(0.02)
    data = img.get_fdata(dtype=np.float32)
    head = data > 0.1 * data.max()
    ghosted = ghosting(data, img.affine, strength=0.2)[0]
    noisy = _phantom(0.10)[0].get_fdata(dtype=np.float32)
    clean_ratio = ghost_ratio(data, head)
    assert ghost_ratio(ghosted, head) > clean_ratio + 0.1
    assert ghost_ratio(noisy, head) < clean_ratio + 0.02

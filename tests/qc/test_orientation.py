"""Orientation tests: a flipped head matches the mean clean head better flipped back."""

import numpy as np

from brainage.qc.orientation import HEAD_GRID, OrientationModel, centred_head


def _head(shape=(60, 70, 64)) -> np.ndarray:
    """A head-like blob that is not symmetric top-bottom or front-back: a skull ball with a neck
    below and a face in front."""
    idx = np.indices(shape).astype(float)
    centre = np.array([30, 35, 40.0])[:, None, None, None]
    r = np.sqrt(((idx - centre) ** 2).sum(0))
    head = np.where(r < 20, 100.0, 0.0)
    head[24:36, 28:42, 4:24] = 80.0  # neck
    head[20:40, 50:62, 22:44] = 90.0  # face
    return head.astype(np.float32)


def test_centred_head_is_centred_so_that_flipping_mirrors_about_the_head():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    head = centred_head(_head(), affine)
    assert head.shape == (HEAD_GRID,) * 3
    shifted = np.roll(_head(), 5, axis=0)  # position in the field of view does not matter
    assert np.corrcoef(centred_head(shifted, affine).ravel(), head.ravel())[0, 1] > 0.98


def test_flip_gains_and_left_right_score_tell_flipped_from_upright():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    heads = np.stack([centred_head(_head(), affine)] * 3)
    rng = np.random.default_rng(0)
    asymmetry = rng.normal(0.5, 0.2, (20, 50))  # clean brains share an asymmetry pattern
    model = OrientationModel.fit(heads, heads, asymmetry)
    upright = model.flip_gains(heads[0], stripped=False)
    assert upright["upside_down_gain"] < 0 and upright["front_back_gain"] < 0
    upside_down = model.flip_gains(centred_head(_head()[:, :, ::-1].copy(), affine), stripped=False)
    back_to_front = model.flip_gains(centred_head(_head()[:, ::-1].copy(), affine), stripped=False)
    assert upside_down["upside_down_gain"] > 0.05 and back_to_front["front_back_gain"] > 0.05
    assert model.left_right_score(asymmetry[0]) > 0.5 > -0.5 > model.left_right_score(-asymmetry[0])


def test_shipped_model_on_real_heads(ixi_dir):
    from brainage.preprocess.ops import reorient

    model = OrientationModel.load()
    img = reorient(ixi_dir / "T1" / "IXI013-HH-1212-T1.nii.gz")[0]  # odd ID: not used to build the model
    data = img.get_fdata(dtype=np.float32)
    upright = model.flip_gains(centred_head(data, img.affine), stripped=False)
    flipped = model.flip_gains(centred_head(data[:, :, ::-1].copy(), img.affine), stripped=False)
    turned = model.flip_gains(centred_head(data[:, ::-1].copy(), img.affine), stripped=False)
    assert upright["upside_down_gain"] < -0.03 and upright["front_back_gain"] < -0.03
    assert flipped["upside_down_gain"] > 0.03 and turned["front_back_gain"] > 0.03

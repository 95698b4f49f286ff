"""The batched augmentation: torchio's transforms, ranges and probabilities, a batch at once."""

import math

import pytest
import torch

from brainage.training import batch_augment
from brainage.training.augment import AugmentConfig
from brainage.training.batch_augment import augment_batch

NOTHING = dict(degrees=0, scale=0, translation_mm=0, log_gamma=0, noise_std=0, bias_coefficients=0)


def _blob():
    x = torch.zeros(3, 1, 24, 28, 24)
    x[:, :, 6:18, 7:21, 6:18] = 0.8
    return x


def test_zero_strength_is_identity():
    x = _blob()
    assert torch.allclose(augment_batch(x, AugmentConfig(**NOTHING)), x, atol=1e-6)


def test_augmentation_is_seeded_per_sample_and_mild():
    x = _blob()
    a = augment_batch(x, AugmentConfig(), generator=torch.Generator().manual_seed(1))
    b = augment_batch(x, AugmentConfig(), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])  # each volume gets its own transform
    # small affine: the object keeps roughly its volume and stays put
    kept = (a > 0.4).float().sum(dim=(1, 2, 3, 4)) / (x > 0.4).float().sum(dim=(1, 2, 3, 4))
    assert ((kept > 0.8) & (kept < 1.25)).all()


def _centre(v):
    idx = torch.stack(torch.meshgrid(*[torch.arange(s, dtype=torch.float32) for s in v.shape], indexing="ij"))
    return (idx * v).sum(dim=(1, 2, 3)) / v.sum()


def test_translation_moves_in_millimetres():
    x = _blob()
    cfg = AugmentConfig(**{**NOTHING, "translation_mm": 4.0})
    out = augment_batch(x, cfg, voxel_mm=2.0, generator=torch.Generator().manual_seed(0))
    shift_vox = (_centre(out[0, 0]) - _centre(x[0, 0])).abs()
    assert (shift_vox <= 2.0 + 0.3).all()  # at most 4 mm = 2 voxels per axis


def test_a_rotation_stays_rigid_on_a_box_that_is_not_a_cube(monkeypatch):
    """A ball in a 16 x 48 x 32 box, rotated by 30 degrees about each axis, is still a ball: its
    second moments stay equal. Rotating in grid_sample's [-1, 1] coordinates, as before 0.12,
    shears it into an ellipsoid."""
    monkeypatch.setattr(batch_augment, "P_AFFINE", 1.0)
    shape = (16, 48, 32)
    grid = torch.stack(torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in shape], indexing="ij"))
    centre = torch.tensor([(n - 1) / 2 for n in shape])[:, None, None, None]
    ball = (((grid - centre) ** 2).sum(0) <= 6.5**2).float()[None, None]
    out = augment_batch(ball, AugmentConfig(**{**NOTHING, "degrees": 30.0}), generator=torch.Generator().manual_seed(3))
    centred = grid - _centre(out[0, 0])[:, None, None, None]
    moments = torch.einsum("ixyz,jxyz,xyz->ij", centred, centred, out[0, 0]) / out[0, 0].sum()
    eigen = torch.linalg.eigvalsh(moments)
    assert eigen.max() / eigen.min() < 1.1


@pytest.mark.parametrize(
    "setting, probability",
    [
        ({"degrees": 10.0}, batch_augment.P_AFFINE),
        ({"bias_coefficients": 0.3}, batch_augment.P_BIAS),
        ({"log_gamma": 0.3}, batch_augment.P_GAMMA),
        ({"blur_std_voxels": 1.0}, batch_augment.P_BLUR),
        ({"noise_std": 0.05}, batch_augment.P_NOISE),
    ],
)
def test_each_transform_happens_as_often_as_torchio_s(setting, probability):
    """The probabilities of build_augmentation's torchio pipeline, drawn per volume."""
    x = torch.rand(400, 1, 8, 8, 8) * 0.5 + 0.25
    out = augment_batch(x, AugmentConfig(**{**NOTHING, **setting}), generator=torch.Generator().manual_seed(0))
    changed = ((out - x).abs().amax(dim=(1, 2, 3, 4)) > 1e-5).float().mean().item()
    assert abs(changed - probability) < 0.07  # 400 draws: 3 standard errors


def test_the_bias_field_is_torchio_s_polynomial():
    """exp of an order-2 polynomial of the coordinates in [-1, 1]: ten coefficients within the
    range, so the log of the field is that polynomial (fitted exactly) and within 10 x the range."""
    amount, shape = 0.2, (12, 14, 10)
    field = batch_augment._bias_field(
        shape, batch_augment._Draws(4, "cpu", torch.Generator().manual_seed(0)), amount, torch.float64
    )
    assert field.shape == (4, 1, *shape)
    axes = [(torch.arange(n, dtype=torch.float64) - (n - 1) / 2) / ((n - 1) / 2) for n in shape]
    x, y, z = (a.flatten() for a in torch.meshgrid(*axes, indexing="ij"))
    design = torch.stack([torch.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, x * z, y * z], 1)
    for log_field in field.log().flatten(1):
        coefficients = torch.linalg.lstsq(design, log_field[:, None]).solution
        assert torch.allclose(design @ coefficients, log_field[:, None], atol=1e-9)
        assert coefficients.abs().max() <= amount + 1e-9
    assert field.log().abs().max() <= 10 * amount


def test_the_blur_keeps_the_mean_and_smooths_noise():
    x = torch.rand(2, 1, 20, 20, 20)
    sigmas = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    out = batch_augment._blur(x, sigmas)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4), slice(4, -4))  # away from the zero padding
    assert math.isclose(out[inner][0].mean().item(), x[inner][0].mean().item(), abs_tol=5e-3)
    assert out[0].std() < 0.5 * x[0].std()  # white noise through a 1-voxel Gaussian
    assert torch.allclose(out[1], x[1], atol=1e-6)  # sigma 0: unchanged


def test_intensity_changes_leave_the_tissue_maps_alone():
    """intensity_inputs=("t1",): gamma, bias, blur and noise touch the T1 channel only."""
    x = torch.rand(16, 4, 8, 8, 8)
    config = AugmentConfig(
        **{**NOTHING, "log_gamma": 0.3, "noise_std": 0.05, "bias_coefficients": 0.3, "blur_std_voxels": 1.0},
        intensity_inputs=("t1",),
    )
    out = augment_batch(x, config, inputs=("t1", "tissue"), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 1:], x[:, 1:]) and not torch.equal(out[:, :1], x[:, :1])

"""The one home of corruptions: each effect does what its docstring says, on real affines."""

import numpy as np
import pytest
import torchio as tio

from brainage.data import corruptions
from brainage.data.corruptions import (
    CSF,
    GM,
    WM,
    LogLinearBiasField,
    NyquistGhost,
    RicianNoise,
    TissueContrast,
    apply,
    polynomial_bias_field,
)


def test_rician_noise_has_the_rayleigh_floor_in_air_and_leaves_the_input_alone():
    data = np.zeros((40, 40, 40), np.float32)
    data[:20] = 100
    before = data.copy()
    out = apply(RicianNoise(std=4.0, rng=0), data, np.eye(4))
    assert (data == before).all()
    # the magnitude of pure complex noise is Rayleigh: mean sigma * sqrt(pi / 2)
    assert out[20:].mean() == pytest.approx(4.0 * np.sqrt(np.pi / 2), rel=0.02)
    assert out[:20].mean() == pytest.approx(100, rel=0.01)
    assert (apply(RicianNoise(std=4.0, rng=0), data, np.eye(4)) == out).all()  # the seed decides


def _oblique(zoom=2.0):
    rotation, _ = np.linalg.qr(np.array([[1.0, 0.3, 0.1], [-0.2, 1.0, 0.4], [0.1, -0.3, 1.0]]))
    affine = np.eye(4)
    affine[:3, :3] = rotation * zoom
    affine[:3, 3] = [-30, 12, 5]
    return affine


def test_log_linear_field_spans_its_region_whatever_the_field_of_view():
    shape = (30, 30, 30)
    region = np.zeros(shape, bool)
    region[10:20, 10:20, 10:20] = True
    affine = _oblique()
    direction = affine[:3, 2]  # along the third voxel axis, in world mm
    field = LogLinearBiasField(2.5, direction, region=region).field(affine, shape)
    assert field[15, 15, 19] / field[15, 15, 10] == pytest.approx(2.5, rel=1e-6)
    # the same region inside a wider array (more air around it): the same field on it
    pad = 7
    wider = np.pad(region, pad)
    shifted = affine.copy()
    shifted[:3, 3] -= affine[:3, :3] @ np.full(3, pad)
    field_wide = LogLinearBiasField(2.5, direction, region=wider).field(shifted, wider.shape)
    assert np.allclose(field_wide[pad:-pad, pad:-pad, pad:-pad], field)


def test_a_clipped_field_is_flat_beyond_its_region():
    shape = (1, 1, 30)
    region = np.zeros(shape, bool)
    region[..., 10:20] = True
    field = LogLinearBiasField(2.0, (0, 0, 1), region=region, clip=True).field(np.eye(4), shape)
    assert field[..., 0] == field[..., 9] and field[..., 20] == field[..., 29]
    assert field[..., 29] / field[..., 0] == pytest.approx(2.0)


def test_ghost_adds_the_half_shifted_copy_along_its_axis():
    data = np.random.default_rng(0).random((6, 8, 4)).astype(np.float32)
    out = apply(NyquistGhost(0.3, axis=1), data, np.eye(4))
    assert np.allclose(out, data + 0.3 * np.roll(data, 4, axis=1))


def test_a_flipped_view_is_corrupted_like_its_copy():
    """A reoriented image's data is often a view with a negative stride, which torch refuses: the
    bias-field copies of the QC benchmark failed so on every IXI-HH head."""
    data = np.random.default_rng(0).random((6, 8, 4)).astype(np.float32)
    flipped = data[::-1]
    out = apply(NyquistGhost(0.3, axis=1), flipped, np.eye(4))
    assert np.array_equal(out, apply(NyquistGhost(0.3, axis=1), flipped.copy(), np.eye(4)))
    assert np.array_equal(flipped, data[::-1])


def test_polynomial_field_is_the_cohort_s_own_quadratic():
    shape, strength = (12, 14, 10), 0.3
    field = polynomial_bias_field(strength, np.random.default_rng(5))
    assert isinstance(field, tio.BiasField)
    out = apply(field, np.ones(shape, np.float32), np.eye(4))
    # what the synthetic cohort wrote before it used torchio: exp of x, y, z and their products
    coef = np.random.default_rng(5).normal(0, strength / 2, 9)
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    terms = list(grids) + [g * h for i, g in enumerate(grids) for h in grids[i:]]
    assert np.allclose(out, np.exp(sum(c * t for c, t in zip(coef, terms))), rtol=1e-5)


def test_tissue_contrast_moves_grey_towards_white_and_keeps_the_rest():
    labels = np.repeat(np.array([CSF, GM, WM, 0]), 250).reshape(10, 10, 10).astype(np.uint8)
    data = np.choose(labels, [0.0, 20.0, 60.0, 100.0]).astype(np.float32)
    out = apply(TissueContrast(0.5, labels=labels), data, np.eye(4))
    assert np.median(out[labels == GM]) == pytest.approx(80)
    assert np.median(out[labels == WM]) == pytest.approx(100) and np.median(out[labels == CSF]) == pytest.approx(20)
    # a contrast the map cannot describe (grey brighter than white) is left as it is
    inverted = np.choose(labels, [0.0, 20.0, 100.0, 60.0]).astype(np.float32)
    assert (apply(TissueContrast(0.5, labels=labels), inverted, np.eye(4)) == inverted).all()


def test_the_renditions_and_injected_failures_are_built_from_this_module():
    """One home: variants and inject hold no noise or field arithmetic of their own."""
    import inspect

    from brainage.data import inject, synth, variants

    for module in (inject, synth, variants):
        source = inspect.getsource(module)
        assert "corruptions." in source
        assert "rng.normal(0, sd" not in source and "np.roll(" not in source
    assert corruptions.RandomTissueContrast.__module__ == "brainage.data.corruptions"

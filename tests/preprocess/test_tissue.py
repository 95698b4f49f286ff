"""Partial-volume tissue fractions keep a brain's volumes when the image is blurred; classifiers do not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.cluster import KMeans

from brainage.preprocess.tissue import partial_volume_fractions


def _phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Folded layers CSF | GM | WM | GM | CSF drawn at twice the resolution, then block-averaged as an
    acquisition integrates: the cortex is a ribbon one or two voxels thick, as at 2 mm. Returns the
    image (with noise) and the true fractions of each tissue."""
    rng = np.random.default_rng(seed)
    idx = np.indices((96, 96, 96)).astype(float)
    phase = (idx[2] + 5 * np.sin(idx[0] / 7) * np.cos(idx[1] / 9)) % 16
    labels = np.select([phase < 3, phase < 6, phase < 10, phase < 13], [0, 1, 2, 1], 0)
    coarse = np.array([0.35, 0.7, 1.0])[labels].reshape(48, 2, 48, 2, 48, 2).mean((1, 3, 5))
    truth = np.stack([(labels == k).reshape(48, 2, 48, 2, 48, 2).mean((1, 3, 5)) for k in range(3)], -1)
    return coarse + rng.normal(0, 0.02, coarse.shape), truth.reshape(-1, 3)


def _kmeans_grey_matter(image: np.ndarray) -> int:
    km = KMeans(3, n_init=3, random_state=0).fit(image.reshape(-1, 1))
    middle = np.argsort(km.cluster_centers_.ravel())[1]
    return int((km.labels_ == middle).sum())


def test_fractions_recover_the_volumes():
    image, truth = _phantom()
    fractions, means = partial_volume_fractions(image.ravel())
    assert np.allclose(fractions.mean(0), truth.mean(0), atol=0.015)
    assert np.allclose(np.sort(means), [0.35, 0.7, 1.0], atol=0.02)


def test_blur_keeps_grey_matter_volume_where_a_classifier_loses_it():
    image, _ = _phantom()
    blurred_image = ndimage.gaussian_filter(image, 0.6)
    sharp, _ = partial_volume_fractions(image.ravel())
    blurred, _ = partial_volume_fractions(blurred_image.ravel())
    change = abs(blurred[:, 1].sum() / sharp[:, 1].sum() - 1)
    classifier_change = abs(_kmeans_grey_matter(blurred_image) / _kmeans_grey_matter(image) - 1)
    assert change < 0.05, f"partial-volume grey matter changed by {change:.1%} with blur"
    assert change < classifier_change / 3, f"{change:.1%} vs k-means {classifier_change:.1%}"


def test_the_histogram_fit_recovers_the_volumes_and_a_few_voxels_more_do_not_move_it():
    """The subsample fit draws another 40,000 voxels when the brain mask gains a few, and on a real
    brain the CSF moved by tens of ml; the histogram fit reads every voxel, so the same voxels plus
    a handful give the same volumes."""
    image, truth = _phantom()
    values = image.ravel()
    fractions, means = partial_volume_fractions(values, fit="histogram")
    assert np.allclose(fractions.mean(0), truth.mean(0), atol=0.015)
    assert np.allclose(np.sort(means), [0.35, 0.7, 1.0], atol=0.02)
    edge = np.random.default_rng(1).choice(values, 200)  # a mask 0.2 % larger
    moved = {}
    for fit in ("subsample", "histogram"):
        one, _ = partial_volume_fractions(values, fit=fit)
        more, _ = partial_volume_fractions(np.concatenate([values, edge]), fit=fit)
        moved[fit] = float(np.abs(more[: values.size].sum(0) - one.sum(0)).max() / values.size)
    assert moved["histogram"] < 0.002, moved
    assert moved["subsample"] > 2 * moved["histogram"], moved


def test_a_spatial_prior_keeps_the_volumes_under_blur_better_than_intensity_alone():
    """The prior fit, given the tissues' whereabouts as a registered template would (the truth smoothed by
    3 voxels), recovers the volumes and moves about half as much when the image is blurred."""
    image, truth = _phantom()
    prior = np.stack([ndimage.gaussian_filter(truth.reshape(48, 48, 48, 3)[..., k], 1.5) for k in range(3)], -1)
    prior = prior.reshape(-1, 3)
    blurred_image = ndimage.gaussian_filter(image, 0.8)
    moved = {}
    for fit, given in (("subsample", None), ("prior", prior)):
        sharp, _ = partial_volume_fractions(image.ravel(), fit=fit, prior=given)
        blurred, _ = partial_volume_fractions(blurred_image.ravel(), fit=fit, prior=given)
        assert np.allclose(sharp.mean(0), truth.mean(0), atol=0.01), fit
        moved[fit] = float(np.abs(blurred.mean(0) - sharp.mean(0)).max())
    assert moved["prior"] < 0.6 * moved["subsample"], moved


def test_only_the_prior_fit_takes_a_prior():
    image, truth = _phantom()
    with pytest.raises(ValueError, match="prior"):
        partial_volume_fractions(image.ravel(), fit="prior")
    with pytest.raises(ValueError, match="prior"):
        partial_volume_fractions(image.ravel(), prior=truth)

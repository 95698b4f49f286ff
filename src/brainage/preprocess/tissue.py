"""Tissue fractions under blur: a partial-volume mixture model.

A voxel on a tissue border holds some of each tissue. Classifiers that give each voxel one
tissue (k-means, Atropos with a Markov random field) decide those voxels by threshold, so the
same brain blurred a little (stored at 1 mm and read back, thicker slices, another scanner's
point spread) comes out with tens of ml less grey matter. Here every voxel's intensity is
modelled as a *mixture*: three pure classes (CSF, grey, white matter) and, between each pair of
neighbours in intensity (CSF-grey, grey-white), mixtures at ``levels`` fractions, all with shared
pure-class means (the partial volume model of Santago & Gage 1993, as in FSL FAST's PVE and Tohka
et al. 2004). The map of a tissue is its expected fraction in each voxel. Blurring moves voxels
from pure classes into mixtures without moving the pure-class means, so volumes change less than
a classifier's. Without a spatial prior, though, noise and contrast changes move voxels between
pure classes and mixtures too: on the invariance benchmark (docs/scanner_robustness.md)
models reading these maps moved by years with 5 % noise or another grey/white contrast, which is
why this is an option (``--segmentation partial-volume``), not the default.

Why hand-written: no maintained Python library estimates partial-volume fractions (FSL FAST is
neither pip-installable nor open-source licensed; ANTs Atropos classifies). The model is fitted
by expectation-maximisation, then evaluated on every brain voxel. ``fit="histogram"`` fits it on
the histogram of every voxel's intensity (intensity is all the model reads); ``"subsample"``
(the recipes' and the intensity anchor's) on a random subsample of 40,000 voxels, which a brain
mask a few voxels larger redraws: the same IXI-HH brain's CSF came out anywhere in 247-286 ml over
four subsamples (grey matter 533-565 ml), on the histogram in 291.7-292.1 ml (515-516 ml). Why the
recipes keep the subsample: the shipped configuration trained on histogram fractions
cross-validated 0.27 y worse (docs/scanner_robustness.md).

``fit="prior"`` weighs each voxel's classes by where the tissues lie in the MNI template
(:func:`~brainage.preprocess.template.tissue_priors`, brought to the scan by its affine
registration): a mixture of two tissues by both priors (their geometric mean), every prior
floored at :data:`PRIOR_FLOOR` so that intensity still decides. Without a prior, the CSF class
is fitted to whatever is dark (its spread 0.16-0.19 of the 99th percentile on IXI-HH, against
0.03 for grey matter), and blur, noise or another contrast redraws it: on 5 IXI-HH brains stored
and acquired 18 other ways, the CSF volume moved 78 ml (root mean square; white matter 66 ml),
with the prior 13 ml (10 ml; ``benchmarks/tissue_stability.py``). But those 5 brains were young:
where blur leaves the intensities less to say, the prior says more, and an old brain's CSF goes to
the young template's grey and white matter (a 79-year-old's 339 ml to 179 ml at 1 mm; without the
prior 373 to 325), so a model reading the fractions reads it years younger; the scanner-robust recipe
fits without it (docs/scanner_robustness.md). The prior also draws the grey/white border towards grey
matter (855 against 506 ml of it on those brains' original files): its volumes are a model's inputs,
not volumetry to compare with other tools.

Example:
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0.3, 0.7, 1.0], [2000, 4000, 4000])
    >>> fractions, means = partial_volume_fractions(truth + rng.normal(0, 0.03, truth.size))
    >>> [round(float(f), 2) for f in fractions.sum(0) / truth.size], [round(float(m), 1) for m in means]
    ([0.2, 0.41, 0.39], [0.3, 0.7, 1.0])
"""

from __future__ import annotations

import numpy as np

#: Each fit's name in preprocessing fingerprints. LEVELS and the fit's constants (FIT_VOXELS and
#: ITERATIONS; BINS and HISTOGRAM_ITERATIONS) are part of it: change one and give the method a new
#: name, so every cache segmented the old way is redone.
METHODS = {
    "subsample": "partial-volume-3",
    "histogram": "partial-volume-histogram-1",
    "prior": "partial-volume-prior-1",
}
#: Mixture fractions modelled between two neighbouring tissues (exclusive of the pure ends).
LEVELS = 9
#: Voxels the ``subsample`` fit uses (fixed seed), and its EM iterations.
FIT_VOXELS = 40_000
ITERATIONS = 60
#: Bins of the ``histogram`` fit over the brain's intensity range (a bin is a fraction of a percent
#: of the white-matter intensity, far below a class's spread of several percent), and its EM
#: iterations (on a histogram they cost microseconds, so enough to converge).
BINS = 2048
HISTOGRAM_ITERATIONS = 300
#: Added to every tissue's prior probability before they are renormalised (``prior`` fit): where the
#: template says a tissue cannot be (a prior of 0), its odds against the others are at most 1 to 11.
PRIOR_FLOOR = 0.1


def _design(levels: int) -> np.ndarray:
    """Rows: each component's fractions of (CSF, GM, WM); 3 pure classes, then the mixtures."""
    rows = list(np.eye(3))
    for a, b in ((0, 1), (1, 2)):
        for t in np.linspace(0, 1, levels + 2)[1:-1]:
            row = np.zeros(3)
            row[a], row[b] = 1 - t, t
            rows.append(row)
    return np.array(rows)


def _responsibilities(
    x: np.ndarray,
    design: np.ndarray,
    means: np.ndarray,
    sds: np.ndarray,
    weights: np.ndarray,
    log_prior: np.ndarray | float = 0.0,
) -> np.ndarray:
    centre, var = design @ means, (design @ sds) ** 2
    log_p = -0.5 * (x[:, None] - centre) ** 2 / var - 0.5 * np.log(var) + np.log(np.maximum(weights, 1e-12))
    log_p = log_p + log_prior
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)


def _component_log_prior(prior: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Log prior of every component for every voxel: a pure class's floored, renormalised tissue
    prior; a mixture's, the geometric mean of its two tissues' (it lies where both may)."""
    p = np.clip(np.asarray(prior, np.float64), 0, 1) + PRIOR_FLOOR
    p /= p.sum(axis=1, keepdims=True)
    log_p = np.log(p)
    # each row of the design has one or two non-zero tissues; the mean of their logs is the log of
    # the geometric mean
    present = design > 0
    return (log_p @ present.T) / present.sum(axis=1)


def partial_volume_fractions(
    intensities: np.ndarray,
    levels: int = LEVELS,
    seed: int = 0,
    fit: str = "subsample",
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected CSF, grey- and white-matter fractions of every voxel (``(n, 3)``, rows sum to 1)
    and the three pure-class means, for the intensities of a bias-corrected T1 brain.

    Classes are ordered dark to bright (T1 contrast); the means start from k-means (scikit-learn)
    of the fitted voxels, which EM then frees from k-means' hard borders. ``fit``: ``subsample``,
    ``histogram`` or ``prior`` (:data:`METHODS`); ``prior`` needs ``prior``, each voxel's CSF, grey-
    and white-matter probabilities from a template (``(n, 3)``).
    """
    if fit not in METHODS:
        raise ValueError(f"unknown partial-volume fit {fit!r}; choose from {', '.join(METHODS)}")
    if (fit == "prior") != (prior is not None):
        raise ValueError("the prior fit needs the voxels' tissue priors, and only it takes them")
    x, scale, (design, means, sds, weights) = _fit(intensities, levels, seed, fit, prior)
    log_prior = 0.0 if prior is None else _component_log_prior(prior, design)
    fractions = _responsibilities(x, design, means, sds, weights, log_prior) @ design
    return fractions.astype(np.float32), means * scale


def partial_volume_means(intensities: np.ndarray, levels: int = LEVELS, seed: int = 0) -> np.ndarray:
    """The three pure-class means of :func:`partial_volume_fractions` alone (the intensity anchor
    needs no fractions: a third of the time saved)."""
    _, scale, (_, means, _, _) = _fit(intensities, levels, seed, "subsample")
    return means * scale


def _fit(intensities: np.ndarray, levels: int, seed: int, fit: str, prior: np.ndarray | None = None):
    """EM on a fixed-seed subsample (with its voxels' priors for the ``prior`` fit) or on the histogram
    of every voxel: the intensities rescaled, the scale, and the fitted model."""
    from sklearn.cluster import KMeans

    x = np.asarray(intensities, dtype=np.float64).ravel()
    scale = np.percentile(x, 99) or 1.0
    x = x / scale
    design = _design(levels)
    log_prior = 0.0
    if fit == "histogram":
        counts, edges = np.histogram(x, bins=BINS)
        points, count = ((edges[:-1] + edges[1:]) / 2)[counts > 0], counts[counts > 0].astype(np.float64)
        iterations = HISTOGRAM_ITERATIONS
    else:
        # the same draw as rng.choice(x, FIT_VOXELS), which fitted every cache before the prior fit
        rng = np.random.default_rng(seed)
        keep = np.arange(x.size) if x.size <= FIT_VOXELS else rng.choice(x.size, FIT_VOXELS, replace=False)
        points = x[keep]
        if prior is not None:
            log_prior = _component_log_prior(np.asarray(prior)[keep], design)
        count, iterations = np.ones(points.size), ITERATIONS
    start = KMeans(3, n_init=3, random_state=seed).fit(points[:, None], sample_weight=count).cluster_centers_
    means = np.sort(start.ravel())
    sds = np.full(3, 0.05 * max(means[2] - means[0], 1e-3))
    weights = np.full(len(design), 1 / len(design))
    for _ in range(iterations):
        r = _responsibilities(points, design, means, sds, weights, log_prior) * count[:, None]
        n = r.sum(axis=0)
        weights = n / n.sum()
        precision = n / (design @ sds) ** 2
        means = np.linalg.solve(
            (design.T * precision) @ design + 1e-9 * np.eye(3), design.T @ ((r.T @ points) / (design @ sds) ** 2)
        )
        pure = r[:, :3]
        sds = np.sqrt((pure * (points[:, None] - means) ** 2).sum(axis=0) / np.maximum(pure.sum(axis=0), 1e-6))
        sds = np.maximum(sds, 1e-3)
    return x, scale, (design, means, sds, weights)

"""Image-quality metrics (IQMs) of a T1w head, after MRIQC's anatomical IQMs.

MRIQC itself is a Nipype workflow around FSL/ANTs/AFNI binaries and cannot be called as a library
on arrays, so the IQMs are implemented here from the published definitions: Esteban O. et al.,
"MRIQC: Advancing the automatic prediction of image quality in MRI from unseen sites",
PLoS ONE 12(9):e0184661 (2017), and MRIQC's documentation ("IQMs for structural images").
Tissue classes come from a three-class k-means of the bias-corrected brain (MRIQC uses FSL FAST;
k-means separates CSF/GM/WM on T1 well enough for these statistics).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
from scipy import ndimage
from sklearn.cluster import KMeans


def tissue_classes(t1: np.ndarray, brain: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """CSF / GM / WM masks from a 3-class k-means of intensities in the eroded brain."""
    core = ndimage.binary_erosion(brain, iterations=1) & brain
    values = t1[core].reshape(-1, 1).astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = values[rng.choice(len(values), min(len(values), 20000), replace=False)]
    km = KMeans(n_clusters=3, n_init=3, random_state=seed).fit(sample)
    rank = np.argsort(np.argsort(km.cluster_centers_.ravel()))
    labels = np.full(t1.shape, -1)
    labels[core] = rank[km.predict(values)]
    return {"csf": labels == 0, "gm": labels == 1, "wm": labels == 2}


def head_mask(img: nib.Nifti1Image) -> np.ndarray:
    """Everything that is not air: ANTs' Otsu threshold, then closing and hole filling."""
    import ants

    img.header.set_xyzt_units("mm", "sec")
    otsu = ants.threshold_image(ants.from_nibabel_nifti(img), "Otsu", 1).numpy() > 0
    closed = ndimage.binary_closing(otsu, iterations=3)
    labels, n = ndimage.label(closed)
    if n > 1:
        closed = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    return ndimage.binary_fill_holes(closed)


def _snr(values: np.ndarray) -> float:
    """MRIQC's SNR of a tissue: mean / (std * sqrt(n / (n - 1)))."""
    n = values.size
    return float(values.mean() / (values.std() * np.sqrt(n / (n - 1)) + 1e-12))


def efc(t1: np.ndarray) -> float:
    """Entropy focus criterion (Atkinson 1997), normalised by its maximum as in MRIQC. Higher = more
    ghosting/blurring (energy spread out)."""
    x = np.abs(t1.ravel()).astype(np.float64)
    n = x.size
    b_max = np.sqrt((x**2).sum())
    p = x[x > 0] / b_max
    efc_max = n * (1.0 / np.sqrt(n)) * np.log(1.0 / np.sqrt(n))
    return float((p * np.log(p)).sum() / efc_max)


def ghost_ratio(t1: np.ndarray, head: np.ndarray) -> float:
    """Brightness of N/2 ghosts: mean intensity where a copy of the head shifted by half the field
    of view falls in the air, minus the mean of the remaining air, over the head's mean; the
    largest over the three axes (the phase-encoding axis is not in a NIfTI header).

    MRIQC's ghost-to-signal ratio uses the same ghost masks; subtracting the remaining air makes
    the measure blind to noise, which raises both, so noise and ghosting get their own reasons.
    """
    near_head = ndimage.binary_dilation(head, iterations=3)
    air = ~near_head
    signal = float(t1[head].mean()) or 1.0
    best = 0.0
    for axis in range(3):
        shift = t1.shape[axis] // 2
        ghost = np.roll(head, shift, axis=axis) & air
        rest = air & ~np.roll(near_head, shift, axis=axis)
        if ghost.sum() >= 50 and rest.sum() >= 50:
            best = max(best, float(t1[ghost].mean() - t1[rest].mean()) / signal)
    return best


def wm_gradient(t1: np.ndarray, wm: np.ndarray, zooms) -> tuple[np.ndarray, float]:
    """Large-scale intensity gradient of white matter in the *acquired* image.

    Fits log(intensity) of white-matter voxels as a linear function of position and returns the
    gradient (log change per 100 mm along the RAS axes) and the fitted log-intensity range across
    the white matter's extent along it (0.69 = a factor of 2). Unlike N4's field statistics this
    does not depend on how much of the bias N4 chose to model, so a strong coil or positioning
    bias shows however N4 behaves.
    """
    idx = np.argwhere(wm)
    values = t1[wm]
    keep = values > 0
    if keep.sum() < 100:
        return np.full(3, np.nan), float("nan")
    xyz = idx[keep] * np.asarray(zooms, float)
    design = np.column_stack([np.ones(len(xyz)), xyz - xyz.mean(0)])
    coef, *_ = np.linalg.lstsq(design, np.log(values[keep]), rcond=None)
    gradient = coef[1:]
    projection = (xyz - xyz.mean(0)) @ (gradient / (np.linalg.norm(gradient) + 1e-12))
    extent = np.percentile(projection, 99) - np.percentile(projection, 1)
    return gradient * 100, float(np.linalg.norm(gradient) * extent)


def compute_iqms(
    t1: np.ndarray, brain: np.ndarray, bias_field: np.ndarray, img: nib.Nifti1Image, stripped: bool
) -> dict[str, float]:
    """All IQMs of one head. ``t1`` is the raw image, ``brain`` the brain mask, ``bias_field`` N4's.

    Air-based metrics (SNRd, CNR's noise term, FBER) need a background: for already-stripped
    inputs, whose background is exactly zero, they are NaN.
    """
    corrected = t1 / np.maximum(bias_field, 1e-6)
    tissues = tissue_classes(corrected, brain)
    stats = {k: (float(corrected[m].mean()), float(corrected[m].std())) for k, m in tissues.items()}
    out = {f"snr_{k}": _snr(corrected[m]) for k, m in tissues.items()}
    out["snr_total"] = float(np.mean([out["snr_csf"], out["snr_gm"], out["snr_wm"]]))
    (mu_gm, sd_gm), (mu_wm, sd_wm) = stats["gm"], stats["wm"]
    out["cjv"] = float((sd_wm + sd_gm) / abs(mu_wm - mu_gm))
    air_sd = np.nan
    if not stripped:
        head = head_mask(img)
        # Air well away from the head: ghosts and noise live here, not the head's own edges.
        air = ~ndimage.binary_dilation(head, iterations=3)
        a = corrected[air] if air.any() else np.array([np.nan])
        air_sd = float(a.std())
        out["snrd_total"] = float(
            np.mean([corrected[m].mean() for m in tissues.values()]) / (np.sqrt(2 / (4 - np.pi)) * air_sd + 1e-12)
        )
        out["fber"] = float((corrected[head] ** 2).mean() / ((a**2).mean() + 1e-12))
        # Noise from the air's median, which ghosts and artefacts (a minority of the air) barely
        # move: magnitude noise in air is Rayleigh, median = 1.1774 sigma.
        noise_sd = float(np.median(a)) / 1.1774
        out["noise_ratio"] = noise_sd / mu_wm
        # Bright air that noise cannot explain: structure (ghosts, wrap-around, artefacts).
        out["air_fraction_bright"] = float((a > max(0.2 * mu_wm, 6 * noise_sd)).mean())
        out["ghost_ratio"] = ghost_ratio(t1, head)
    else:
        out.update(snrd_total=np.nan, fber=np.nan, noise_ratio=np.nan, air_fraction_bright=np.nan, ghost_ratio=np.nan)
    noise = np.sqrt((0 if np.isnan(air_sd) else air_sd**2) + sd_gm**2 + sd_wm**2)
    out["cnr"] = float(abs(mu_gm - mu_wm) / noise)
    out["efc"] = efc(t1)
    out["wm2max"] = float(np.median(t1[tissues["wm"]]) / np.percentile(t1, 99.95))
    field = bias_field[brain]
    med = float(np.median(field))
    out["inu_med"] = med
    out["inu_range"] = float((np.percentile(field, 95) - np.percentile(field, 5)) / med)
    gradient, out["wm_bias_range"] = wm_gradient(t1, tissues["wm"], img.header.get_zooms()[:3])
    out.update({f"wm_gradient_{axis}": float(g) for axis, g in zip(("lr", "ap", "si"), gradient)})
    return out

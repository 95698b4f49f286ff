"""What each QC metric measures and which direction is bad: the legend of every QC page.

Example:
    >>> LEGEND["cjv"].bad
    'high'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    label: str
    meaning: str
    bad: str  # "high", "low" or "either"


LEGEND: dict[str, Metric] = {
    "snr_total": Metric("SNR", "signal-to-noise ratio of the tissue (mean over its spread)", "low"),
    "snrd_total": Metric("SNR (Dietrich)", "tissue signal over the noise measured in the air around the head", "low"),
    "cnr": Metric("CNR", "contrast between grey and white matter over the noise", "low"),
    "cjv": Metric("CJV", "coefficient of joint variation of grey and white matter: overlap of their intensities", "high"),
    "efc": Metric("EFC", "entropy focus criterion: blurring and ghosting spread energy", "high"),
    "fber": Metric("FBER", "energy in the head over energy in the background", "low"),
    "wm2max": Metric("WM / max", "white-matter median over the 99.95th percentile: a few very bright voxels", "either"),
    "air_fraction_bright": Metric("bright air", "share of background voxels brighter than expected (ghosts, noise, wrap-around)", "high"),
    "inu_range": Metric("bias range", "spread of the N4 bias field (intensity non-uniformity)", "high"),
    "wm_bias_range": Metric("WM gradient", "log range of white-matter intensity across the brain after correction", "high"),
    "brain_volume_ml": Metric("brain volume", "volume of the brain mask in ml", "either"),
    "ncc_template": Metric("template correlation", "correlation of the registered brain with the MNI template", "low"),
    "dice_template": Metric("template Dice", "overlap of the registered mask with the template's brain mask", "low"),
    "border_contact_mm2": Metric("FOV contact", "mask surface touching the edge of the image: brain cut off", "high"),
    "below_brainstem_ml": Metric("below brainstem", "mask volume below the brainstem: tissue left on the medulla/neck", "high"),
    "outside_template_ml": Metric("outside brain", "mask volume outside the template brain: skull, scalp or eyes left in", "high"),
    "holes_ml": Metric("mask holes", "volume of holes inside the brain mask", "high"),
    "n_components": Metric("mask pieces", "number of separate pieces of the brain mask", "high"),
    "rotation_deg": Metric("rotation", "rotation the registration needed: wrong orientation in the header", "high"),
    "mirrored": Metric("mirrored", "the registration needed a left-right flip", "high"),
}

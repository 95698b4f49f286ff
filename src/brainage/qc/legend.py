"""What each QC metric measures, which direction is bad, and how its value is written.

Every QC page (the HTML report, the web viewer) shows this legend, and every reason writes
values through :func:`show`, in plain numbers (``10,400`` not ``1.04e+04``).

Example:
    >>> LEGEND["cjv"].bad
    'high'
    >>> show("brain_volume_ml", 10412.3), show("snr_total", 3.14159), show("ghost_ratio", 0.0123)
    ('10,412 ml', '3.14', '0.0123')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    label: str
    meaning: str
    bad: str  # "high", "low" or "either"
    unit: str = ""


LEGEND: dict[str, Metric] = {
    "snr_total": Metric("SNR", "signal-to-noise ratio of the tissue (mean over its spread)", "low"),
    "snrd_total": Metric("SNR (air)", "tissue signal over the noise measured in the air around the head", "low"),
    "noise_ratio": Metric("noise", "noise level in the air around the head, over white-matter brightness", "high"),
    "cnr": Metric("CNR", "contrast between grey and white matter over the noise", "low"),
    "cjv": Metric(
        "CJV", "coefficient of joint variation of grey and white matter: overlap of their intensities", "high"
    ),
    "efc": Metric("EFC", "entropy focus criterion: blurring and ghosting spread energy", "high"),
    "fber": Metric("FBER", "energy in the head over energy in the background", "low"),
    "wm2max": Metric("WM / max", "white-matter median over the 99.95th percentile: a few very bright voxels", "either"),
    "air_fraction_bright": Metric(
        "bright air", "share of background voxels brighter than noise explains (ghosts, wrap-around, artefacts)", "high"
    ),
    "ghost_ratio": Metric(
        "ghost", "brightness of a copy of the head shifted by half the field of view, over the head's", "high"
    ),
    "inu_range": Metric("bias range", "spread of the N4 bias field (intensity non-uniformity) over its median", "high"),
    "wm_bias_range": Metric(
        "WM gradient", "log range of white-matter intensity across the brain (0.69 = twice as bright)", "high"
    ),
    "wm_gradient_lr": Metric(
        "WM gradient L-R", "white-matter log intensity change per 100 mm, left to right", "either"
    ),
    "wm_gradient_ap": Metric(
        "WM gradient A-P", "white-matter log intensity change per 100 mm, back to front", "either"
    ),
    "wm_gradient_si": Metric(
        "WM gradient S-I", "white-matter log intensity change per 100 mm, bottom to top", "either"
    ),
    "brain_volume_ml": Metric("brain volume", "volume of the brain mask", "either", "ml"),
    "ncc_template": Metric(
        "template correlation", "correlation of the registered brain with the MNI template (falls with atrophy)", "low"
    ),
    "dice_template": Metric(
        "template Dice", "overlap of the registered brain outline with the template's brain", "low"
    ),
    "template_coverage": Metric(
        "template coverage", "share of the template brain covered by the registered mask", "low"
    ),
    "fov_contact_mm2": Metric(
        "FOV contact", "brain surface on the edge of the image or on a zero-filled region: brain cut off", "high", "mm²"
    ),
    "below_brainstem_ml": Metric(
        "below brainstem", "mask volume below the brainstem: tissue left on the medulla or neck", "high", "ml"
    ),
    "outside_template_ml": Metric(
        "outside brain", "mask volume outside the template brain: skull, scalp or eyes left in", "high", "ml"
    ),
    "edge_nonbrain_fraction": Metric(
        "mask edge not brain",
        "share of the brain mask's outer 4 mm that is fat or bone: skull or scalp left in",
        "high",
    ),
    "holes_ml": Metric("mask holes", "volume of holes inside the brain mask", "high", "ml"),
    "n_components": Metric("mask pieces", "number of separate pieces of the brain mask", "high"),
    "upside_down_gain": Metric(
        "upside-down test", "template correlation gained by turning the brain upside down", "high"
    ),
    "front_back_gain": Metric("front-back test", "template correlation gained by swapping front and back", "high"),
    "left_right_score": Metric(
        "left-right test", "the brain's asymmetry against clean brains' (+1 typical, -1 mirrored)", "low"
    ),
    "white_grey_ratio": Metric(
        "white/grey ratio",
        "white-matter over grey-matter brightness: above 1 in T1-weighted scans, below 1 in T2, FLAIR and PD",
        "low",
    ),
    "rotation_deg": Metric(
        "rotation", "rotation the registration needed: a header turned by a quarter turn", "high", "°"
    ),
}


def number(value: float) -> str:
    """A plain number, never in scientific notation: 3 significant digits, thousands separated."""
    if value is None or not np.isfinite(value):
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return np.format_float_positional(value, precision=3, unique=True, fractional=False, trim="-")


def show(metric: str, value: float) -> str:
    """``value`` of ``metric`` with its unit, as a reader wants it."""
    unit = LEGEND[metric].unit if metric in LEGEND else ""
    text = number(value)
    return f"{text} {unit}" if unit and text else text

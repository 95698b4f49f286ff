"""One named check per way a scan goes wrong, each saying why in plain words with its value.

A :class:`Check` reads one or more metrics (:class:`Signal`) and returns the worst
:class:`Finding`. Checks are listed in :data:`CHECKS` in causal order: a header flipped upside
down also spoils the registration, a field of view that cuts the brain also leaves the mask on
its edge, so when two checks are equally severe the earlier one is the headline reason.

Most limits are absolute values of quantities with a physical meaning (ml, mm², noise as a share
of white-matter brightness, a ghost's share of the head's brightness, a correlation gain), so a
scan is judged the same on any scanner and in any batch. Only image contrast, which depends on
the scanner and sequence, is judged by robust z-scores (``kind="z"``) against the normative
reference (:mod:`brainage.qc.reference`). Limits were set on the even-numbered IXI-HH subjects,
broken copies of them, and the synthetic cohort only; ``benchmarks/qc.py`` scores on the
odd-numbered ones. Clean even-numbered IXI-HH heads span: ghost 0.004-0.05, noise 0 (air stored
as zero), WM gradient 0.16-0.44, template Dice 0.92-0.95, brain 1,080-1,700 ml, nothing below
the brainstem (0.1 ml at most); clean synthetic heads reach 4 ml below the brainstem (their neck
joins the brainstem without a gap) and are left-right symmetric (score about 0).

The warn lines a clean scan of another scanner can reach (the WM gradient, ghost and noise) also
stand on what moves the predicted age: ``benchmarks/qc_limits.py`` puts graded bias fields,
ghosts and noise on even-numbered IXI-HH heads and measures, per metric value, how far the shipped
model's age moved. Each such line says why in ``Signal.why``, which the QC legend shows.

Example:
    >>> check = next(c for c in CHECKS if c.name == "below_brainstem")
    >>> check.judge({"below_brainstem_ml": 12.0}, {}, stripped=True).text
    'tissue left below the brainstem: below brainstem 12 ml (clean scans under 5 ml)'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainage.qc.legend import LEGEND, number, show

SEVERITY = {"pass": 0, "warn": 1, "fail": 2}
#: The check whose failure means the image is no T1 at all: ``predict`` gives it no age.
NOT_T1_CHECK = "t1_weighting"
Z_WARN = 4.0


@dataclass(frozen=True)
class Finding:
    check: str
    level: str
    metric: str
    value: float
    text: str


@dataclass(frozen=True)
class Signal:
    """Evidence from one metric: beyond ``warn``/``fail`` in the ``bad`` direction ("high"/"low").

    ``kind="z"`` compares the metric's robust z-score (spread at least ``floor``) with the limits;
    ``kind="value"`` the value itself. ``heads_only`` signals need air around the head, so they
    are not judged for already-skull-stripped inputs. ``words`` replaces the check's title for
    this signal (one check, several named causes). ``why``: the evidence the warn line stands on,
    shown in the QC legend beside it.
    """

    metric: str
    bad: str
    warn: float
    fail: float
    kind: str = "value"
    floor: float = 0.0
    heads_only: bool = False
    words: str = ""
    why: str = ""

    def level(self, value: float, z: float) -> str:
        x = z if self.kind == "z" else value
        if x is None or not np.isfinite(x):
            return "pass"
        beyond = (lambda t: x > t) if self.bad == "high" else (lambda t: x < t)
        return "fail" if beyond(self.fail) else "warn" if beyond(self.warn) else "pass"

    def clean_range(self, reference_text: str) -> str:
        if self.kind == "z":
            return reference_text
        side = "under" if self.bad == "high" else "over"
        return f"clean scans {side} {show(self.metric, self.warn)}"


@dataclass(frozen=True)
class Check:
    """A named failure kind: its plain-words title and the signals that reveal it."""

    name: str
    title: str
    signals: tuple[Signal, ...]

    def judge(self, values: dict, z: dict, stripped: bool, ranges: dict | None = None) -> Finding | None:
        """The worst finding of this check for one scan (``None`` when it passes).

        ``values``: metric -> value; ``z``: metric -> robust z on the yardstick in use;
        ``ranges``: metric -> "clean scans a to b" from the reference.
        """
        worst: Finding | None = None
        for s in self.signals:
            if s.heads_only and stripped:
                continue
            value = values.get(s.metric, np.nan)
            level = s.level(value, z.get(s.metric, np.nan))
            if level == "pass" or (worst and SEVERITY[worst.level] >= SEVERITY[level]):
                continue
            label = LEGEND[s.metric].label if s.metric in LEGEND else s.metric
            detail = f"{label} {show(s.metric, value)}"
            if s.kind == "z" and np.isfinite(z.get(s.metric, np.nan)):
                detail += f", robust z {number(z[s.metric])}"
            context = s.clean_range((ranges or {}).get(s.metric, ""))
            text = f"{s.words or self.title}: {detail}" + (f" ({context})" if context else "")
            worst = Finding(self.name, level, s.metric, float(value), text)
        return worst


CHECKS: tuple[Check, ...] = (
    Check(
        "orientation",
        "wrong orientation in the header",
        (
            Signal("upside_down_gain", "high", 0.02, 0.03, words="upside down (top and bottom swapped in the header)"),
            Signal("front_back_gain", "high", 0.02, 0.03, words="front and back swapped in the header"),
            Signal("left_right_score", "low", -0.2, -0.25, words="left and right swapped in the header"),
            Signal("rotation_deg", "high", 40.0, 60.0, words="head rotated by about a quarter turn in the header"),
        ),
    ),
    Check("field_of_view", "brain cut off by the field of view", (Signal("fov_contact_mm2", "high", 150.0, 600.0),)),
    Check(
        "skull_left_in",
        "skull, scalp or eyes left in the brain mask",
        (
            Signal("outside_template_ml", "high", 25.0, 60.0),
            Signal("edge_nonbrain_fraction", "high", 0.2, 0.25),
        ),
    ),
    Check("below_brainstem", "tissue left below the brainstem", (Signal("below_brainstem_ml", "high", 5.0, 10.0),)),
    # The outline's overlap, not the intensity correlation: large ventricles (atrophy) lower the
    # correlation with the template of a perfectly registered brain, not its outline.
    Check("registration", "registration to the template failed", (Signal("dice_template", "low", 0.915, 0.89),)),
    # Absolute, not against a reference: a T2, FLAIR or PD image (or an inverted one) has white
    # matter darker than grey; every T1 contrast has it brighter (IXI-HH: 1.2-1.5).
    Check(
        NOT_T1_CHECK,
        "not T1-weighted",
        (
            Signal(
                "white_grey_ratio",
                "low",
                1.05,
                1.0,
                words="not T1-weighted (white matter not brighter than grey matter: T2, FLAIR, PD or inverted?)",
            ),
        ),
    ),
    Check(
        "ghosting",
        "ghosting or artefact in the background",
        (
            Signal(
                "ghost_ratio",
                "high",
                0.06,
                0.08,
                heads_only=True,
                why="above every clean IXI-HH head (0.050 at most over all 185) and at the weakest ghost QC's "
                "benchmark finds (7 % of the amplitude: 0.063-0.066); ghosts of 2 % to 13 % moved the age 0.5-1.0 y "
                "on average (benchmarks/qc_limits.py), so this line says the image has an artefact, not that its "
                "age moved",
            ),
            Signal("air_fraction_bright", "high", 0.02, 0.05, heads_only=True),
        ),
    ),
    Check(
        "noise",
        "noisy image (low signal-to-noise ratio)",
        (
            Signal(
                "noise_ratio",
                "high",
                0.05,
                0.09,
                heads_only=True,
                why="Rician noise of 4 % of bright tissue (0.052-0.056) moved the age 1.2 y on average (60 % of "
                "heads by more than 1 y) and 5 % (0.054-0.060) 3.1 y, where 2 % (0.02) moved it 0.5-1.0 y "
                "(benchmarks/qc_limits.py, invariance.py); clean IXI-HH heads have none (air stored as zero)",
            ),
        ),
    ),
    # The gradient's direction is the coil's and the head's position's: scanner-dependent, so each
    # component is judged against the reference (warning only); its size has absolute limits.
    Check(
        "nonuniformity",
        "strong intensity non-uniformity (bias field)",
        (
            Signal(
                "wm_bias_range",
                "high",
                0.47,
                0.6,
                why="bias fields of 1.2-2.3x put on IXI-HH heads moved the age 1.1 y on average past it, 0.7 y up "
                "to it; the metric follows a field only loosely (its direction against the head's own gradient), "
                "and a line at 0.50 or 0.55 let 38-44 % of the 2x fields through, whose ages moved 2.1-2.4 y "
                "(benchmarks/qc_limits.py); clean IXI-HH heads reach 0.44",
            ),
            Signal("inu_range", "high", 0.75, 1.0),
            *(
                Signal(f"wm_gradient_{axis}", bad, sign * Z_WARN, sign * np.inf, "z", 0.03)
                for axis in ("lr", "ap", "si")
                for bad, sign in (("high", 1), ("low", -1))
            ),
        ),
    ),
    Check(
        "brain_mask",
        "brain mask broken",
        (
            Signal("holes_ml", "high", 2.0, 10.0),
            Signal("n_components", "high", 1.5, 3.5),
        ),
    ),
    Check(
        "brain_volume",
        "implausible brain volume",
        (
            Signal("brain_volume_ml", "high", 2000.0, 2300.0, words="implausibly large brain"),
            Signal("brain_volume_ml", "low", 900.0, 700.0, words="implausibly small brain"),
        ),
    ),
    # Contrast and tissue SNR depend on scanner and sequence: judged against the reference, joined
    # by the site's own distribution where that is trusted (brainage.qc.reference), and never more
    # than a warning: unlike the checks above, being unlike IXI-HH does not make a scan unusable.
    Check(
        "contrast",
        "image contrast or SNR unlike clean scans",
        (
            Signal("snr_total", "low", -Z_WARN, -np.inf, "z", 0.5),
            Signal("cjv", "high", Z_WARN, np.inf, "z", 0.02),
            Signal("cnr", "low", -Z_WARN, -np.inf, "z", 0.1),
            Signal("efc", "high", Z_WARN, np.inf, "z", 0.01, heads_only=True),
            Signal("fber", "low", -Z_WARN, -np.inf, "z", 100.0, heads_only=True),
            Signal("wm2max", "high", Z_WARN, np.inf, "z", 0.02, heads_only=True),
            Signal("wm2max", "low", -Z_WARN, -np.inf, "z", 0.02, heads_only=True),
        ),
    ),
)

#: Metrics judged by robust z, with the smallest spread used for each.
Z_METRICS: dict[str, float] = {s.metric: s.floor for c in CHECKS for s in c.signals if s.kind == "z"}


def limits_text(metric: str) -> str:
    """When a metric flags a scan, in words, from the same :data:`CHECKS` that judge it: what the
    QC legend shows, so the legend and the verdicts cannot disagree.

    Example:
        >>> limits_text("below_brainstem_ml"), limits_text("cnr")
        ('warn above 5 ml, fail above 10 ml', 'warn when robust z below -4 (against the yardstick)')
        >>> limits_text("ghost_ratio").split(" (")[0]
        'warn above 0.06, fail above 0.08'
    """
    parts = []
    for check in CHECKS:
        for s in check.signals:
            if s.metric != metric:
                continue
            side = "above" if s.bad == "high" else "below"
            if s.kind == "z":
                parts.append(f"warn when robust z {side} {number(s.warn)} (against the yardstick)")
            else:
                fail = f", fail {side} {show(metric, s.fail)}" if np.isfinite(s.fail) else ""
                why = f" ({s.why})" if s.why else ""
                parts.append(f"warn {side} {show(metric, s.warn)}{fail}{why}")
    return "; ".join(parts) or "not judged (shown for context)"

"""Named preprocessing recipes: settings that belong together, declared once.

Kept apart from :mod:`brainage.preprocess.pipeline` so the command line can list them without
importing the imaging stack.
"""

from __future__ import annotations

#: Named recipes: settings that belong together, declared once (``brainage preprocess --recipe``).
#: ``scanner-robust`` is the recipe of the shipped model and of the ``scanner_robust`` model of the
#: registry: every step on 2 mm voxels whatever the scanner stored, partial-volume tissue fractions,
#: the T1 anchored on its CSF and white-matter means, one training rendition of every scan
#: (docs/scanner_robustness.md), and since brainage 0.9 the same answer whatever the storage: air
#: stored at a constant put back at zero, N4 on the brain-median intensity scale.
RECIPES: dict[str, dict] = {
    "default": {},
    "scanner-robust": {
        "working_voxel_mm": 2.0,
        "segmentation": "partial-volume",
        "intensity_reference": "tissue",
        "renditions": 1,
        "background": "offset removed",
        "n4_scale": "brain median",
    },
}

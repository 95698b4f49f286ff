"""Files that ship inside the package, found with :mod:`importlib.resources`.

Example:
    >>> SHIPPED_BUNDLE.name
    'ixi-hh-180.brainage'
    >>> QC_REFERENCE.is_file()
    True
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _shipped(*parts: str) -> Path:
    # brainage is installed as plain files (never zipped), so each resource is a real path that
    # nibabel, numpy and the web server can open directly
    return Path(str(files("brainage").joinpath(*parts)))


#: The region atlas (consensus IXI-HH DLMUSE on the 2 mm MNI grid) and its label names.
ATLAS_IMAGE = _shipped("bundled", "atlas_dlmuse_2mm.nii.gz")
ATLAS_LABELS = _shipped("bundled", "atlas_dlmuse_labels.csv")
#: QC's yardstick: every metric's distribution over clean IXI-HH scans (``brainage.qc.reference``),
#: and the mean clean head, brain and brain asymmetry the orientation tests compare with
#: (``brainage.qc.orientation``).
QC_REFERENCE = _shipped("bundled", "qc_reference_ixi_hh.json")
QC_ORIENTATION = _shipped("bundled", "qc_orientation.npz")
#: The QC viewer's own files (its page, script and NiiVue).
VIEWER_STATIC = _shipped("viewer", "static")
#: The model that ships inside the package, with its attribution beside it.
SHIPPED_BUNDLE = _shipped("bundled", "ixi-hh-180.brainage")

"""The model file ``brainage export`` writes."""

from __future__ import annotations

#: Members of a model bundle archive (``brainage export``).
BUNDLE_FILES = {"meta": "bundle.json", "weights": "weights.pt", "licence": "LICENSE.txt"}
BUNDLE_SUFFIX = ".brainage"

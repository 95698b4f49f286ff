"""The QC viewer's own files and its ratings export."""

from __future__ import annotations

#: The viewer's page and the files it serves (package data, :data:`brainage.resources.VIEWER_STATIC`).
VIEWER_INDEX = "index.html"
VIEWER_FILES = (VIEWER_INDEX, "app.js", "niivue.umd.js", "NIIVUE_LICENSE.txt")
#: The file name of the ratings export.
RATINGS_EXPORT = "qc_ratings.csv"

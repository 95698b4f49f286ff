"""``brainage serve``: a local web app to rate a preprocessed, QC'd dataset fast, in the browser.

Python's standard HTTP server is enough for one lab on one machine (no framework to install);
what it serves is fixed up front, so nothing outside the dataset can be fetched:

* ``/`` and ``/static/<name>``: the app (``static/``: the page, ``app.js``) and NiiVue, vendored;
* ``/api/subjects``: every subject, worst automatic verdict first, with reasons, metrics and the
  latest rating; ``/api/legend``: what each metric means; ``/api/qc_ratings.csv``: every rating;
* ``/files/<subject>/<image>``: one of the subject's preprocessing images (native T1, brain mask,
  MNI T1, MNI mask), looked up by name in the layout, never built from the request;
* ``POST /api/rate``: ``{"subject_id", "rater", "verdict": pass|fail|unsure, "note"}`` stored at
  once (:class:`~brainage.qc.ratings.RatingStore`).

Bad requests get a 4xx JSON error saying what is wrong.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

from brainage.errors import InputError
from brainage.layout import RATINGS_EXPORT, VIEWER_FILES, VIEWER_INDEX, PredictDir, PreprocessedDir
from brainage.preprocess.grids import DEFAULT_GRID
from brainage.qc.legend import LEGEND
from brainage.qc.ratings import RatingStore
from brainage.qc.verdicts import read_verdicts
from brainage.resources import VIEWER_STATIC

MAX_BODY = 64 * 1024


def dataset_root(folder: str | Path) -> PreprocessedDir:
    """The preprocessed folder of a ``brainage preprocess`` output or a ``brainage predict`` output."""
    folder = Path(folder)
    for candidate in (PreprocessedDir(folder), PredictDir(folder).preprocessed):
        if candidate.qc.verdicts.is_file():
            return candidate
    raise InputError(
        folder,
        "no QC verdicts here: serve a `brainage preprocess` folder after `brainage qc`, or a `brainage predict` output",
    )


class Dataset:
    """What the app shows: verdicts, metrics and the images that exist, read once; ratings live in SQLite."""

    def __init__(self, folder: str | Path):
        self.pre = dataset_root(folder)
        self.ratings = RatingStore(self.pre.qc.ratings)
        verdicts = read_verdicts(self.pre.qc.verdicts)
        metrics = (
            pd.read_csv(self.pre.qc.metrics, dtype={"subject_id": str})
            if self.pre.qc.metrics.is_file()
            else pd.DataFrame()
        )
        shown = [m for m in LEGEND if m in metrics.columns]
        by_id = metrics.set_index("subject_id")[shown] if len(metrics) else pd.DataFrame()
        grid = next(iter(self.pre.grids()), DEFAULT_GRID)
        self.subjects, self.images = [], {}
        for row in verdicts.itertuples():
            folder = self.pre.subject(row.subject_id)
            candidates = {
                "t1": folder.t1_ras,
                "mask": folder.brain_mask,
                "t1_mni": folder.t1_mni(grid),
                "mask_mni": folder.mask_mni(grid),
            }
            self.images[row.subject_id] = {k: p for k, p in candidates.items() if p.is_file()}
            values = by_id.loc[row.subject_id].to_dict() if row.subject_id in by_id.index else {}
            self.subjects.append(
                {
                    "subject_id": row.subject_id,
                    "site": str(getattr(row, "site", "") or ""),
                    "verdict": row.verdict,
                    "final_verdict": row.final_verdict,
                    "reasons": row.final_reasons or row.reasons,
                    "outlier_score": float(row.outlier_score),
                    "images": list(self.images[row.subject_id]),
                    "metrics": {k: (None if pd.isna(v) else round(float(v), 4)) for k, v in values.items()},
                }
            )

    def listing(self) -> list[dict]:
        """The subjects with their latest rating (ratings change while the server runs; the rest is read once)."""
        latest = self.ratings.latest().set_index("subject_id")
        return [
            {**s, "rating": latest.loc[s["subject_id"]].to_dict() if s["subject_id"] in latest.index else None}
            for s in self.subjects
        ]


class Handler(BaseHTTPRequestHandler):
    dataset: Dataset  # set on the subclass made by make_server
    server_version = "brainage-viewer"

    def log_message(self, format: str, *args) -> None:  # quiet: a rater's clicks are not news
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _file(self, path: Path) -> None:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.name.endswith(".gz"):
            kind = "application/octet-stream"  # NiiVue reads the gzip itself
        self._send(200, path.read_bytes(), kind)

    def do_GET(self) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        if not parts:
            return self._file(VIEWER_STATIC / VIEWER_INDEX)
        if parts[0] == "static" and len(parts) == 2 and parts[1] in VIEWER_FILES:
            return self._file(VIEWER_STATIC / parts[1])
        if parts == ["api", "subjects"]:
            return self._json(self.dataset.listing())
        if parts == ["api", "legend"]:
            return self._json({k: vars(v) for k, v in LEGEND.items()})
        if parts == ["api", RATINGS_EXPORT]:
            body = self.dataset.ratings.all().to_csv(index=False).encode()
            return self._send(
                200, body, "text/csv", {"Content-Disposition": f'attachment; filename="{RATINGS_EXPORT}"'}
            )
        if parts[0] == "files" and len(parts) == 3:
            path = self.dataset.images.get(parts[1], {}).get(parts[2])
            if path is not None:
                return self._file(path)
        return self._error(HTTPStatus.NOT_FOUND, "not found: only the app and the served dataset's images are here")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/rate":
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._error(HTTPStatus.BAD_REQUEST, "send a JSON body of at most 64 KiB")
        try:
            data = json.loads(self.rfile.read(length))
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return self._error(HTTPStatus.BAD_REQUEST, "the body is not a JSON object")
        subject = str(data.get("subject_id", ""))
        if subject not in self.dataset.images:
            return self._error(HTTPStatus.NOT_FOUND, f"no subject {subject!r} in this dataset")
        try:
            row = self.dataset.ratings.rate(
                subject, data.get("rater", ""), data.get("verdict", ""), data.get("note", "")
            )
        except InputError as exc:
            return self._error(HTTPStatus.BAD_REQUEST, exc.problem)
        return self._json(row)


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """An HTTP server over ``folder`` (not started); ``port=0`` picks a free one."""
    handler = type("DatasetHandler", (Handler,), {"dataset": Dataset(folder)})
    return ThreadingHTTPServer((host, port), handler)


def serve_in_thread(folder: str | Path, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server in a daemon thread; returns it and its base URL (for tests and notebooks)."""
    server = make_server(folder, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"

"""How fast the QC viewer opens a large dataset: server start (reading verdicts, metrics, ratings)
and the first subject list, for a synthetic 500-subject QC table (images are fetched lazily, so
their number does not matter here).

Example:
    python benchmarks/viewer.py --subjects 500
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine_info

from brainage.files import write_csv
from brainage.layout import PreprocessedDir
from brainage.qc.legend import LEGEND
from brainage.qc.overrides import apply_overrides, read_overrides
from brainage.qc.ratings import RatingStore
from brainage.viewer.server import serve_in_thread

RESULTS = Path(__file__).parent / "results"


def fake_dataset(root: Path, n: int) -> PreprocessedDir:
    pre = PreprocessedDir(root)
    rng = np.random.default_rng(0)
    ids = [f"sub-{i:04d}" for i in range(n)]
    verdicts = pd.DataFrame(
        {
            "subject_id": ids,
            "site": rng.choice(["A", "B", "C"], n),
            "verdict": rng.choice(["pass", "warn", "fail"], n, p=[0.8, 0.15, 0.05]),
            "reasons": "",
            "outlier_score": rng.uniform(0, 30, n),
        }
    )
    write_csv(apply_overrides(verdicts, read_overrides(pre.qc.overrides)), pre.qc.verdicts)
    write_csv(pd.DataFrame({"subject_id": ids, **{m: rng.normal(size=n) for m in LEGEND}}), pre.qc.metrics)
    store = RatingStore(pre.qc.ratings)
    for sid in ids[: n // 5]:
        store.rate(sid, "bench", "pass")
    return pre


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pre = fake_dataset(Path(tmp), args.subjects)
        start = time.perf_counter()
        server, url = serve_in_thread(pre.root)
        started = time.perf_counter() - start
        listing = json.loads(urllib.request.urlopen(f"{url}/api/subjects").read())
        first_list = time.perf_counter() - start
        server.shutdown()
    assert len(listing) == args.subjects
    print(f"{args.subjects} subjects: server ready in {started:.2f} s, subject list served after {first_list:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "viewer_cpu.json").write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "subjects": args.subjects,
                "server_ready_s": started,
                "first_list_s": first_list,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

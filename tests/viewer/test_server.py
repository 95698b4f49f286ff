"""The QC viewer's server: what it serves and refuses, ratings that survive a kill, and ratings that count."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from brainage.qc.overrides import apply_overrides, read_overrides
from brainage.qc.ratings import RatingStore
from brainage.qc.verdicts import qc_failed
from brainage.viewer.server import serve_in_thread


@pytest.fixture
def server(qc_dataset):
    server, url = serve_in_thread(qc_dataset.root)
    yield url, qc_dataset
    server.shutdown()
    server.server_close()


def _get(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _post(url, body: bytes, content_type="application/json"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_subjects_come_worst_first_with_metrics_and_legend(server):
    url, _ = server
    status, body = _get(f"{url}/api/subjects")
    subjects = json.loads(body)
    assert status == 200 and [s["subject_id"] for s in subjects] == ["sub-001", "sub-002", "sub-003"]
    assert (
        subjects[0]["final_verdict"] == "fail"
        and subjects[0]["metrics"]["cnr"] == 2.5
        and "t1" in subjects[0]["images"]
    )
    legend = json.loads(_get(f"{url}/api/legend")[1])
    assert legend["cnr"]["bad"] == "low"
    assert _get(url)[0] == 200 and b"niivue" in _get(f"{url}/")[1]
    assert (
        _get(f"{url}/static/niivue.umd.js")[0] == 200 and b"BSD 2-Clause" in _get(f"{url}/static/NIIVUE_LICENSE.txt")[1]
    )


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/static/../server.py",
        "/static/%2e%2e%2fserver.py",
        "/files/sub-001/../../../etc/passwd",
        "/files/sub-001/steps",
        "/files/sub-999/t1",
        "/files/sub-001/t1_mni",
        "/etc/passwd",
        "/api/nothing",
    ],
)
def test_nothing_outside_the_dataset_is_served(server, path):
    url, _ = server
    status, body = _get(url + path)
    assert status == 404 and "error" in json.loads(body)


def test_a_subject_image_is_served_byte_for_byte(server):
    url, pre = server
    status, body = _get(f"{url}/files/sub-002/t1")
    assert status == 200 and body == pre.subject("sub-002").t1_ras.read_bytes()


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"not json", 400, "not a JSON object"),
        (b"[1, 2]", 400, "not a JSON object"),
        (json.dumps({"subject_id": "sub-001", "rater": "ana", "verdict": "maybe"}).encode(), 400, "not one of"),
        (json.dumps({"subject_id": "sub-001", "rater": " ", "verdict": "pass"}).encode(), 400, "rater"),
        (json.dumps({"subject_id": "sub-999", "rater": "ana", "verdict": "pass"}).encode(), 404, "no subject"),
        (b"x" * 70000, 400, "at most 64 KiB"),
    ],
)
def test_bad_ratings_get_a_clear_4xx(server, body, status, message):
    url, _ = server
    got, answer = _post(f"{url}/api/rate", body)
    assert got == status and message in answer["error"]


def test_a_fail_rating_excludes_the_subject_and_a_hand_override_wins(server):
    url, pre = server
    assert (
        _post(
            f"{url}/api/rate",
            json.dumps({"subject_id": "sub-003", "rater": "ana", "verdict": "fail", "note": "ghosting"}).encode(),
        )[0]
        == 200
    )
    assert (
        _post(f"{url}/api/rate", json.dumps({"subject_id": "sub-002", "rater": "bo", "verdict": "unsure"}).encode())[0]
        == 200
    )
    failed = qc_failed(pre.qc.verdicts)
    assert "rated fail by ana in the viewer: ghosting" in failed["sub-003"] and "sub-002" not in failed.index
    status, csv = _get(f"{url}/api/qc_ratings.csv")
    assert status == 200 and csv.decode().count("\n") == 3  # header + two ratings
    pre.qc.overrides.write_text("subject_id,verdict,note\nsub-003,pass,checked by hand\n")
    verdicts = pd.read_csv(pre.qc.verdicts, dtype={"subject_id": str})
    apply_overrides(
        verdicts[["subject_id", "site", "verdict", "reasons", "outlier_score"]], read_overrides(pre.qc.overrides)
    ).to_csv(pre.qc.verdicts, index=False)
    assert "sub-003" not in qc_failed(pre.qc.verdicts).index


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_killing_the_server_loses_no_saved_rating(qc_dataset):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "brainage.cli", "serve", str(qc_dataset.root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/legend")
                break
            except OSError:
                time.sleep(0.2)
        for sid, verdict in (("sub-001", "fail"), ("sub-002", "pass")):
            assert (
                _post(
                    f"http://127.0.0.1:{port}/api/rate",
                    json.dumps({"subject_id": sid, "rater": "ana", "verdict": verdict}).encode(),
                )[0]
                == 200
            )
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    ratings = RatingStore(qc_dataset.qc.ratings).latest().set_index("subject_id").verdict.to_dict()
    assert ratings == {"sub-001": "fail", "sub-002": "pass"}

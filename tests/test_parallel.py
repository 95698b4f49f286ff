"""The per-subject map on local processes and on a Dask cluster (a LocalCluster on 127.0.0.1)."""

import pytest

from brainage.data.manifest import read_manifest, write_manifest
from brainage.errors import InputError
from brainage.parallel import Executor, map_subjects
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.qc.run import run_qc
from tests.conftest import FAST


def _square_or_error(x):
    return x * x if x >= 0 else f"error: negative {x}"


def test_local_map_keeps_job_order():
    jobs = [(i,) for i in (3, -1, 2, 5)]
    expected = [9, "error: negative -1", 4, 25]
    assert map_subjects(_square_or_error, jobs, "squares", Executor(workers=2)) == expected
    assert map_subjects(_square_or_error, jobs, "squares", Executor(workers=1, isolate=False)) == expected
    assert map_subjects(_square_or_error, [], "nothing", Executor(workers=2)) == []


def test_dask_needs_a_scheduler():
    with pytest.raises(InputError, match="--scheduler"):
        Executor(kind="dask")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        map_subjects(
            _square_or_error, [(1,)], "x", Executor(kind="dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)
        )


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as cluster:
        yield cluster.scheduler_address


def test_preprocess_and_qc_on_dask_match_local(dask_cluster, preprocessed_synth, tmp_path):
    local, _, _ = preprocessed_synth
    manifest = read_manifest(local / "manifest.csv")
    write_manifest(manifest[manifest.subject_id == "sub-002"], tmp_path / "one.csv")
    dask = Executor(kind="dask", scheduler=dask_cluster)
    report = preprocess_manifest(tmp_path / "one.csv", tmp_path / "out", FAST, dask)
    assert report.status.tolist() == ["ok"], report.error.tolist()
    transform = "subjects/sub-002/to_mni_affine.mat"
    assert (tmp_path / "out" / transform).read_bytes() == (local / transform).read_bytes()  # same deterministic result
    # the same fingerprints: a local re-run finds every step done
    again = preprocess_manifest(tmp_path / "one.csv", tmp_path / "out", FAST, Executor(workers=1))
    assert again.filter(like="seconds_").iloc[0].tolist() == report.filter(like="seconds_").iloc[0].tolist()
    verdicts = run_qc(tmp_path / "out", executor=dask, pictures=False)
    assert verdicts.subject_id.tolist() == ["sub-002"] and verdicts.verdict[0] != "fail"

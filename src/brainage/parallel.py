"""The per-subject parallel map of batch stages, on local processes or a Dask cluster.

Preprocessing and QC call :func:`map_subjects` with a function and one argument tuple per
subject. Where it runs is an :class:`Executor` setting, not the stage's business:

* ``local`` (default): a process pool on this machine, ``workers`` processes, started with
  ``spawn`` (fresh interpreters: ANTs reads its thread count once per process, and CUDA and
  fork do not mix);
* ``dask``: the tasks go to a running ``distributed`` scheduler (``--scheduler tcp://host:8786``,
  e.g. started by dask-jobqueue on SLURM). Workers need brainage installed and the input and
  output folders on a shared filesystem; fingerprints and resume work exactly as locally.

The function must catch its own per-subject errors and return them in its result: one bad
subject never stops the map.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from brainage.errors import InputError
from brainage.progress import make_progress

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Executor:
    """Where per-subject work runs. Not part of any fingerprint: it never changes a result.

    Example:
        >>> map_subjects(pow, [(2, 3), (3, 2)], "powers", Executor(workers=1, isolate=False))
        [8, 9]
    """

    kind: str = "local"
    workers: int = 2
    scheduler: str | None = None
    start_method: str = "spawn"
    #: Run even a single worker in a child process (needed where per-process state matters).
    isolate: bool = True
    #: How long to wait for a Dask scheduler before giving up.
    connect_timeout_s: float = 20.0

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise InputError(None, f"unknown executor {self.kind!r} (choose from {', '.join(EXECUTORS)})")
        if self.kind == "dask" and not self.scheduler:
            raise InputError(None, "--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")


def map_subjects(
    fn: Callable[..., Any], jobs: Sequence[tuple], description: str, executor: Executor = Executor()
) -> list:
    """``[fn(*job) for job in jobs]`` in parallel with a progress bar; results in job order."""
    results: list = [None] * len(jobs)
    with make_progress() as progress:
        task = progress.add_task(description, total=len(jobs))
        for i, result in _run(fn, jobs, executor):
            results[i] = result
            progress.advance(task)
    return results


def _run(fn, jobs, executor: Executor):
    if not jobs:
        return
    if executor.kind == "dask":
        yield from _run_dask(fn, jobs, executor.scheduler, executor.connect_timeout_s)
    elif (executor.workers <= 1 or len(jobs) == 1) and not executor.isolate:
        # one job gains nothing from a pool, and a fresh interpreter costs seconds of imports
        for i, job in enumerate(jobs):
            yield i, fn(*job)
    else:
        ctx = mp.get_context(executor.start_method)
        with ProcessPoolExecutor(max(1, executor.workers), mp_context=ctx) as pool:
            futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            except KeyboardInterrupt:
                for fut in futures:
                    fut.cancel()
                raise


def _run_dask(fn, jobs, scheduler: str, timeout_s: float):
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - distributed is a dependency, but may be trimmed
        raise InputError(None, "--executor dask needs the `distributed` package (pip install distributed)") from None
    try:
        client = Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError) as exc:
        raise InputError(None, f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    with client:
        # pure=False: the same subject submitted again (a re-run) must run again; fingerprints
        # inside the task decide what is skipped, as they do locally.
        futures = [client.submit(fn, *job, pure=False, key=f"brainage-{i}-{id(jobs)}") for i, job in enumerate(jobs)]
        index = {fut.key: i for i, fut in enumerate(futures)}
        for fut in dask_completed(futures):
            yield index[fut.key], fut.result()

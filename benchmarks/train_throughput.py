"""Training throughput: volumes/s per model, precision and batch size, and whether the loader keeps up.

    python benchmarks/train_throughput.py                       # GPU: 160x192x160, bf16 etc.
    python benchmarks/train_throughput.py --cpu --shape 80 96 80 --batch-sizes 4 --steps 3

"compute" feeds tensors already on the device (the model's ceiling); "with loader" reads uint8
volumes from a memory-mapped cache through the real DataLoader (``--workers``) with augmentation
on the device, as ``brainage train --augment-on batch`` does. busy = compute time / loader time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _machine import machine_info

from brainage.data.manifest import make_manifest
from brainage.layout import PreprocessedDir
from brainage.models.network import BrainAgeNet, ModelConfig
from brainage.preprocess.cache import read_cache_index, write_cache_index
from brainage.preprocess.grids import GridSpec
from brainage.training.augment import AugmentConfig
from brainage.training.batch_augment import augment_batch
from brainage.training.dataset import BrainAgeDataset, make_loader

MODES = {"fp32": (None, False), "bf16": (torch.bfloat16, False), "bf16+channels_last": (torch.bfloat16, True)}


def _step_fn(net, opt, device, dtype, channels_last):
    def step(x, age, sex):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        ctx = torch.autocast(device_type=device.type, dtype=dtype) if dtype else nullcontext()
        with ctx:
            out = net(x)
            loss = sum(net.losses(out, age, sex).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_cache(root: Path, shape, n: int) -> Path:
    rng = np.random.default_rng(0)
    cache = PreprocessedDir(root).cache("bench")
    cache.root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        np.save(cache.volume(f"s{i}"), rng.integers(0, 255, shape, dtype=np.uint8))
        rows.append({"subject_id": f"s{i}", "age": float(20 + i % 60), "sex": "FM"[i % 2], "site": "x", "t1_path": ""})
    write_cache_index(cache, GridSpec("bench", 1.0, tuple(shape)), make_manifest(rows))
    return cache.root


def measure(model: str, mode: str, batch: int, shape, device, steps: int, cache: Path | None, workers: int) -> dict:
    torch.manual_seed(0)
    head = "softlabel" if model == "sfcn" else "regression"
    net = BrainAgeNet(ModelConfig(name=model, age_head=head)).to(device)
    dtype, channels_last = MODES[mode]
    if channels_last:
        net = net.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    step = _step_fn(net, opt, device, dtype, channels_last)
    x = torch.rand(batch, 1, *shape, device=device)
    age = torch.rand(batch, device=device) * 60 + 20
    sex = torch.randint(0, 2, (batch,), device=device)
    for _ in range(2):
        step(x, age, sex)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(x, age, sex)
    _sync(device)
    compute = (time.perf_counter() - t0) / steps
    row = {
        "model": model,
        "mode": mode,
        "batch": batch,
        "shape": "x".join(map(str, shape)),
        "compute_volumes_per_s": batch / compute,
        "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    }
    if cache is not None:
        ds = BrainAgeDataset(read_cache_index(cache))
        loader = make_loader(
            ds,
            batch,
            shuffle=True,
            num_workers=workers,
            start_method="fork",
            pin_memory=device.type == "cuda",
            drop_last=True,
        )
        it = iter(loader)
        aug = AugmentConfig()
        n = min(steps, len(loader) - 1)
        for _ in range(1):
            xb, ab, sb = next(it)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(n):
            xb, ab, sb = next(it)
            xb = augment_batch(xb.to(device, non_blocking=True), aug)
            step(xb, ab.to(device), sb.to(device))
        _sync(device)
        with_loader = (time.perf_counter() - t0) / n
        row.update(loader_volumes_per_s=batch / with_loader, busy_fraction=min(1.0, compute / with_loader))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--shape", type=int, nargs=3, default=[160, 192, 160])
    ap.add_argument("--models", default="sfcn,seresnet,resnet")
    ap.add_argument("--modes", default="fp32,bf16,bf16+channels_last")
    ap.add_argument("--batch-sizes", default="8,16,32")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--loader-volumes", type=int, default=96, help="cache size for the loader test (0 = skip)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    device = torch.device("cpu" if args.cpu or not torch.cuda.is_available() else "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    info = machine_info()
    name = info.get("gpu", "cpu").replace(" ", "_")
    out_json = args.json or Path(__file__).parent / "results" / f"train_throughput_{name}.json"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = make_cache(Path(tmp), tuple(args.shape), args.loader_volumes) if args.loader_volumes else None
        for model in args.models.split(","):
            for mode in args.modes.split(","):
                for batch in map(int, args.batch_sizes.split(",")):
                    try:
                        rows.append(
                            measure(model, mode, batch, tuple(args.shape), device, args.steps, cache, args.workers)
                        )
                    except torch.OutOfMemoryError:
                        rows.append({"model": model, "mode": mode, "batch": batch, "error": "out of memory"})
                        torch.cuda.empty_cache()
                    print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False, header=len(rows) == 1), flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.round(2).to_string(index=False))
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(
        json.dumps(
            {
                "benchmark": "train_throughput",
                "device": str(device),
                "machine": info,
                "workers": args.workers,
                "rows": table.to_dict(orient="records"),
            },
            indent=2,
            default=str,
        )
    )
    print(f"saved {out_json}")


if __name__ == "__main__":
    main()

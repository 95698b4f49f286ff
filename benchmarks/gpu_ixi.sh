#!/usr/bin/env bash
# Full-scale IXI-HH-180 run on one GPU: 5-fold CV of SFCN, SE-ResNet and ResNet (no SE) on the
# 2 mm grid at full width, then the training-throughput benchmark at 1 mm 160x192x160.
# Fits one ~10-minute call on an H100.
#
# Prepare on the CPU machine (repo root), once:
#   brainage ingest ixi ../shared/data/ixi-hh --out results/ixi
#   brainage preprocess results/ixi/manifest.csv --out results/ixi/pre --workers 2
#   brainage split results/ixi/manifest.csv --out results/ixi/splits --seed 42
#   mkdir -p .gpu && brainage pack results/ixi/pre/cache/2mm .gpu/ixi_2mm.npz          # ~44 MiB
#   cp results/ixi/splits/folds.csv results/ixi/pre/preprocess_report.csv .gpu/
#   echo /.gpu/ >> .git/info/exclude; echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 --platform any -d .whl nibabel==5.4.2
# Then on the GPU machine (device tool: carry [".gpu", ".whl"]):
#   bash benchmarks/gpu_ixi.sh
# Results: $OUT/gpu_results.tgz (evaluation folders, logs) and $OUT/*.json.
set -euo pipefail
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
EPOCHS=${EPOCHS:-60}
MODELS=${MODELS:-"sfcn seresnet resnet"}   # dry run on a CPU: EPOCHS=1 FOLDS=0 MODELS=sfcn THROUGHPUT=0
FOLDS=${FOLDS:-}
THROUGHPUT=${THROUGHPUT:-1}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 BRAINAGE_NO_PROGRESS=1
WORK=/tmp/ixi
python3 - <<'PY'
from brainage.preprocess.cache import unpack_cache
unpack_cache(".gpu/ixi_2mm.npz", "/tmp/ixi/cache/2mm")
PY
cp .gpu/preprocess_report.csv $WORK/
(nvidia-smi -L || echo "no GPU visible") | tee "$OUT/gpu.txt"
common="--splits .gpu/folds.csv --epochs $EPOCHS --patience 20 --batch-size 8 --workers 8 --start-method fork --augment-on gpu"
[ -n "$FOLDS" ] && common="$common --folds $FOLDS"
for m in $MODELS; do
  # learning rates and heads: the model registry's defaults (brainage/models/registry.py)
  python3 -m brainage.cli train $WORK --out $WORK/models/$m --model $m $common
  python3 -m brainage.cli evaluate $WORK/models/$m
  cp $WORK/models/$m/evaluation/metrics.json "$OUT/cv_$m.json"
done
[ "$THROUGHPUT" = 1 ] && python3 benchmarks/train_throughput.py --steps 10 --workers 12 --json "$OUT/train_throughput_gpu.json"
tar czf "$OUT/gpu_results.tgz" --exclude='*.ckpt' -C $WORK models

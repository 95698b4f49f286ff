#!/usr/bin/env bash
# IXI-HH-180 on one GPU: what the CPU cannot afford for the default model (`brainage train`'s
# `ensemble`: SE-ResNet on T1 + tissue maps with head-size covariates, stacked with ridge):
# a 5-seed ensemble per fold with twice the epochs, the SE ablation at the same configuration,
# then the training-throughput benchmark at 1 mm 160x192x160. Fits one ~10-minute call on an H100.
#
# Prepare on the CPU machine (repo root), once:
#   brainage ingest ixi ../shared/data/ixi-hh --out results/ixi
#   brainage preprocess results/ixi/manifest.csv --out results/ixi/pre --workers 2      # with tissue maps
#   brainage split results/ixi/manifest.csv --out results/ixi/splits --seed 42
#   mkdir -p .gpu && brainage pack results/ixi/pre .gpu/ixi_4mm.npz --downsample 2      # ~20 MiB (the default grid)
#   cp results/ixi/splits/folds.csv results/ixi/pre/preprocess_report.csv .gpu/
#   echo /.gpu/ >> .git/info/exclude; echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 --platform any -d .whl nibabel==5.4.2
# Then on the GPU machine (device tool: carry [".gpu", ".whl"]):
#   bash benchmarks/gpu_ixi.sh
# Dry run on a CPU (venv first on PATH): PATH=.venv/bin:$PATH EPOCHS=1 SEEDS=0 FOLDS=0 MODELS="ensemble resnet" \
#   THROUGHPUT=0 OUT=/tmp/gpu_dry bash benchmarks/gpu_ixi.sh     (2.3 min here)
# Results: $OUT/gpu_results.tgz (evaluation folders, logs) and $OUT/*.json.
set -euo pipefail
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
EPOCHS=${EPOCHS:-60}
SEEDS=${SEEDS:-0,1,2,3,4}
MODELS=${MODELS:-"ensemble seresnet resnet"}
FOLDS=${FOLDS:-}
THROUGHPUT=${THROUGHPUT:-1}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 BRAINAGE_NO_PROGRESS=1
WORK=${WORK:-/tmp/ixi}
python3 - "$WORK" <<'PY'
import sys
from brainage.layout import PreprocessedDir
from brainage.preprocess.cache import unpack_cache
unpack_cache(".gpu/ixi_4mm.npz", PreprocessedDir(sys.argv[1]).cache("4mm").root)
PY
cp .gpu/preprocess_report.csv "$WORK/"
(nvidia-smi -L || echo "no GPU visible") | tee "$OUT/gpu.txt"
# The packed cache is already on the 4 mm grid: --downsample 1 here is the default model's 4 mm.
# The SE ablation uses the default model's inputs and covariates.
common="--splits .gpu/folds.csv --downsample 1 --epochs $EPOCHS --seeds $SEEDS --workers 8 --start-method fork"
[ -n "$FOLDS" ] && common="$common --folds $FOLDS"
for m in $MODELS; do
  extra=""
  [ "$m" != ensemble ] && extra="--width 0.5 --inputs t1,tissue --no-modulate --covariates brain_volume_ml,affine_det"
  python3 -m brainage.cli train "$WORK" --out "$WORK/models/$m" --model "$m" $common $extra
  python3 -m brainage.cli evaluate "$WORK/models/$m"
  cp "$WORK/models/$m/evaluation/metrics.json" "$OUT/cv_$m.json"
done
if [ "$THROUGHPUT" = 1 ]; then
  python3 benchmarks/train_throughput.py --steps 10 --workers 12 --json "$OUT/train_throughput_gpu.json"
fi
tar czf "$OUT/gpu_results.tgz" --exclude='*.ckpt' -C "$WORK" models

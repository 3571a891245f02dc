#!/usr/bin/env bash
# The GPU checks of the throughput work, in one run of about 12 minutes on
# one H200 (start-up aside), for a session that is lent a GPU:
#   1. the tests marked for CUDA (pytest -m cuda; they skip without one);
#   2. benchmarks/throughput.py on cuda, every setting side by side;
#   3. a 5-minute run of the paper's springs-5 configuration (50,000
#      systems, hidden 256, batch 128, lr 5e-4), whose epochs per second give
#      the paper's full 500-epoch budget by extrapolation.
# Uses the machine's own torch and torch-geometric (nothing is downloaded);
# everything it prints also lands in $OUT (default: gpu_results/), seven
# files in all.
#
#   bash benchmarks/gpu_check.sh                       # defaults
#   TRAIN_FLAGS="--precision bf16 --compile" bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_results}
TRAIN_FLAGS=${TRAIN_FLAGS:---precision bf16}
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}

$PYTHON - <<'PY' 2>&1 | tee "$OUT/environment.txt"
import torch, torch_geometric
print("torch", torch.__version__, "torch_geometric", torch_geometric.__version__)
print("device", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())
PY

timeout 120 $PYTHON -m pytest -q -m cuda -p no:cacheprovider tests 2>&1 | tee "$OUT/tests.log"

timeout 300 $PYTHON benchmarks/throughput.py --device cuda --hidden 256 64 --rounds 20 \
    --plot "$OUT/throughput_cuda.png" 2>&1 | tee "$OUT/throughput.log"

# The paper's springs-5 configuration (the training defaults), stopped by time.
timeout $((TRAIN_SECONDS + 200)) $PYTHON -m torch_nri train --device cuda --system springs \
    --num-train 50000 --num-valid 10000 --num-test 10000 --epochs 500 \
    --max-seconds "$TRAIN_SECONDS" --no-progress $TRAIN_FLAGS \
    --out /tmp/paper_run --data-root /tmp/torch_nri_data 2>&1 | tee "$OUT/train.log"
cp /tmp/paper_run/log.csv /tmp/paper_run/results.json "$OUT/"  # $OUT takes 8 files
$PYTHON - /tmp/paper_run <<'PY' 2>&1 | tee -a "$OUT/train.log"
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/log.csv")))
seconds = sum(float(r["seconds"]) for r in rows)
print(f"{len(rows)} epochs in {seconds:.0f} s ({seconds / len(rows):.2f} s per epoch, "
      f"validation included); 500 epochs: {500 * seconds / len(rows) / 60:.1f} min; "
      f"last valid accuracy {rows[-1]['valid_accuracy']}")
PY

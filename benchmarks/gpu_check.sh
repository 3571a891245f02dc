#!/usr/bin/env bash
# The GPU checks, for a session that is lent a GPU: one part per device call,
# each within one call's 8 minutes (its timeout says so). Estimated, not yet
# measured on a GPU: about 11 minutes for the three, compilation included.
#
#   bash benchmarks/gpu_check.sh tests   # ~4 min (timeout 6): the CUDA-marked tests and
#                                        # the device set-up and distributed tests
#   bash benchmarks/gpu_check.sh speed   # ~3 min (timeout 5): examples/s of the paper's
#                                        # springs-5 step (hidden 256, batch 128) in fp32,
#                                        # tf32, bf16, tf32 and bf16 compiled; peak memory
#   bash benchmarks/gpu_check.sh paper   # ~4.5 min (timeout 6.5): torch-nri train on the
#                                        # paper's springs-5 setting for PAPER_SECONDS (150),
#                                        # extrapolated to 500 epochs x 50k systems
#   bash benchmarks/gpu_check.sh all     # the three in turn (more than one device call)
#
# Every call ends with one plain-text table of every part run so far on this
# machine (their results stay in $GPU_CHECK_STATE, default /tmp/gpu_check,
# while the machine is held): CUDA tests passed/failed, examples/s per
# setting, training steps/s, the paper's budget in minutes, peak memory,
# against the target of >= 220 training steps/s on one H100. $OUT (default
# gpu_results/) receives at most 7 flat files: environment.txt, tests.log,
# speed.log, train.log, log.csv, summary.txt, summary.json.
#
# It uses the machine's own torch, torch_geometric, numpy, scipy, matplotlib,
# tqdm and pytest; nothing is downloaded. A package the machine lacks
# travels as a wheel in .whl/ at the repository root (untracked and not
# ignored, so the device call copies it), made on the development machine:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl PACKAGE==VERSION
# and installed here into /tmp/site, which goes on PYTHONPATH.
#
# Settings (the CPU check of this script in tests/test_benchmarks.py uses them):
#   GPU_CHECK_DEVICE  device of speed and paper (default cuda)
#   GPU_CHECK_TESTS   pytest arguments of tests (default: the test files that
#                     mark CUDA tests, tests/test_device.py and
#                     tests/training/test_distributed.py)
#   SPEED_FLAGS       more flags of gpu_check.py steps (e.g. --settings fp32 bf16-compiled)
#   PAPER_FLAGS       more flags of torch-nri train (default --tf32)
#   PAPER_SECONDS     training time of paper, the --max-seconds budget (default 150)
#   PYTHON            the interpreter (default python3)
set -uo pipefail
cd "$(dirname "$0")/.."
PART=${1:-}
case $PART in
    tests|speed|paper|all) ;;
    *) echo "usage: bash benchmarks/gpu_check.sh tests|speed|paper|all" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
OUT=${OUT:-gpu_results}
STATE=${GPU_CHECK_STATE:-/tmp/gpu_check}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
PAPER_SECONDS=${PAPER_SECONDS:-150}
mkdir -p "$OUT" "$STATE"
if compgen -G ".whl/*.whl" > /dev/null; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export TORCHINDUCTOR_CACHE_DIR=$STATE/inductor  # compiled kernels, reused by a rerun
failed=0

$PYTHON benchmarks/gpu_check.py environment --json "$STATE/environment.json" \
    > "$OUT/environment.txt" 2>&1 || failed=1

run_tests() {
    rm -f "$STATE/tests.xml"
    local options=() files
    $PYTHON -c "import xdist" 2> /dev/null && options+=(-n 4)
    $PYTHON -c "import pytest_timeout" 2> /dev/null && options+=(--timeout 240)
    files=$(grep -rlE '^@cuda|mark\.cuda' tests --include='test_*.py'
            echo tests/test_device.py tests/training/test_distributed.py | tr ' ' '\n')
    # shellcheck disable=SC2086  # GPU_CHECK_TESTS and the files are word lists
    timeout 360 $PYTHON -m pytest -q -p no:cacheprovider -rfE "${options[@]}" \
        --junitxml "$STATE/tests.xml" ${GPU_CHECK_TESTS:-$(echo "$files" | sort -u)} \
        2>&1 | tee "$OUT/tests.log"
}

run_speed() {
    rm -f "$STATE/speed.json"
    # shellcheck disable=SC2086
    timeout 300 $PYTHON benchmarks/gpu_check.py steps --device "$DEVICE" \
        --json "$STATE/speed.json" ${SPEED_FLAGS:-} 2>&1 | tee "$OUT/speed.log"
}

run_paper() {
    # The paper's springs-5 setting (the training defaults: hidden 256, batch
    # 128, lr 5e-4), stopped by time; the data is simulated once per machine.
    rm -rf "$STATE/paper_run" "$STATE/paper.json"
    # shellcheck disable=SC2086
    timeout $((PAPER_SECONDS + 240)) $PYTHON benchmarks/gpu_check.py train \
        --json "$STATE/paper.json" -- --device "$DEVICE" --system springs --num-nodes 5 \
        --num-train 50000 --num-valid 10000 --num-test 10000 --epochs 500 \
        --max-seconds "$PAPER_SECONDS" --no-progress --out "$STATE/paper_run" \
        --data-root "$STATE/data" ${PAPER_FLAGS:---tf32} 2>&1 | tee "$OUT/train.log"
    local status=$?
    cp "$STATE/paper_run/log.csv" "$OUT/" 2> /dev/null
    return $status
}

for part in tests speed paper; do
    if [[ $PART == "$part" || $PART == all ]]; then
        echo "== $part"
        "run_$part" || failed=1
    fi
done
echo
$PYTHON benchmarks/gpu_check.py summary "$STATE" --out "$OUT/summary.txt" || failed=1
exit $failed

#!/usr/bin/env bash
# The device check (issue 31): one command on a lent CUDA machine with a fresh checkout that
# installs img2gif, runs the CUDA tests, times a 1080p pair to 60 frames and a 10 s 720p clip
# 30 -> 60 fps, a 3 s clip with gaps fitted one by one and 16 at a time, trains the motion
# prior for 150 s, and writes $OUT/device_check.json (under
# 8 minutes on one GPU). Tried on CPU here first, so the first GPU run does not die on a typo:
#
#   run(command="bash bench/device_check.sh", carry=[".whl"], timeout_s=540)   # the device tool
#   bash bench/device_check.sh --device cpu --quick                             # the CPU dry run
#
# The device image has torch, torchdiffeq, typer, rich, pillow, imageio and pytest but not
# imageio-ffmpeg or platformdirs: carry their wheels in .whl/ (the device tool's README says
# how to download them); without ffmpeg the pair and the clip are written as frames folders.
set -uo pipefail
OUT=${OUT:-/tmp/device-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}  # the device image's python3 holds torch
export PYTHONUNBUFFERED=1
DEVICE=cuda QUICK=
while [ $# -gt 0 ]; do
  case $1 in
    --device) DEVICE=$2; shift ;;
    --quick) QUICK=--quick ;;
    *) echo "device_check.sh: unknown argument $1 (--device cuda|cpu, --quick)" >&2; exit 2 ;;
  esac
  shift
done
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader) || true
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# install this checkout (nothing can be fetched there: no dependencies), unless it is what imports already
if ! "$PY" -c "import img2gif, sys; sys.exit(0 if img2gif.__file__.startswith('$PWD/') else 1)" 2>/dev/null; then
  "$PY" -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -3
  "$PY" -c "import img2gif" 2>/dev/null || export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c "import img2gif, torch; print('img2gif', img2gif.__version__, 'from', img2gif.__file__, '| torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
set -o pipefail
"$PY" -m pytest -q -p no:cacheprovider -k cuda tests 2>&1 | tail -5 | tee "$OUT/cuda_tests.log"
tests=${PIPESTATUS[0]}
"$PY" bench/device_check.py --device "$DEVICE" $QUICK -o "$OUT/device_check.json"
check=$?
echo "cuda tests exit status $tests (5: none collected), device_check exit status $check"
[ "$check" -eq 0 ] && { [ "$tests" -eq 0 ] || [ "$tests" -eq 5 ]; }

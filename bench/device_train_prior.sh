#!/usr/bin/env bash
# Train the pair prior on a lent GPU in one call (issue 13, step 3), leaving time to spare.
#
#   run(command="bash bench/device_train_prior.sh", timeout_s=560)     # the device tool
#   MINUTES=0.2 SIZE=32 STEPS=4 BATCH=2 WORKERS=1 DEVICE=cpu bash bench/device_train_prior.sh   # CPU dry run
#
# Needs no install: the device image has torch, torchdiffeq, scikit-image and pillow, and the
# plugin registry falls back to the source tree's table. Trains for MINUTES of wall time at most
# (--steps is the cap: a run stopped by the clock keeps its last checkpoint, written every
# 100 steps; a run stopped by the clock saves its last step too), then copies the checkpoint and
# the log to $OUT. A second try continues the first: copy its $OUT/prior.pt to ./prior.pt here
# and run again with carry=["prior.pt"] (an existing checkpoint is always resumed, never replaced).
# PRIOR=path writes the checkpoint elsewhere than ./prior.pt (the tests do).
set -uo pipefail
OUT=${OUT:-/tmp/prior-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # the device image's python3 holds torch
MINUTES=${MINUTES:-7.5}
PRIOR=${PRIOR:-prior.pt}
SIZE=${SIZE:-128} STEPS=${STEPS:-20000} BATCH=${BATCH:-64} WORKERS=${WORKERS:-14} DEVICE=${DEVICE:-cuda}
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader) || true
"$PY" -c "import torch, skimage; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'skimage', skimage.__version__)"
timeout --signal=INT "$("$PY" -c "print(int(float('$MINUTES') * 60))")" \
  "$PY" -m img2gif train --prior -o "$PRIOR" --size "$SIZE" --steps "$STEPS" --batch-size "$BATCH" \
    --workers "$WORKERS" --device "$DEVICE" --checkpoint-every 100 $([ -f "$PRIOR" ] && echo --resume) 2>&1 | tee "$OUT/train_prior.log"
status=${PIPESTATUS[0]}
echo "train --prior exit status: $status (124 or 130: stopped by the clock, its last step saved)"
if [ -f "$PRIOR" ]; then
  cp "$PRIOR" "$OUT/prior.pt"
  "$PY" -c "import sys, torch; r = torch.load(sys.argv[1], weights_only=True); print('checkpoint step', r['step'])" "$PRIOR"
fi
case $status in 0|124|130) exit 0 ;; *) exit "$status" ;; esac

#!/usr/bin/env bash
# Every quality and speed benchmark behind a headline number in BENCHMARKS.md, one after
# another on an otherwise idle machine (about an hour on 2 CPU cores): what a refactor that
# must change nothing is checked with ("no number lower"). Each script's output goes to
# bench/out/rerun/NAME.log and its JSON to bench/out/ as usual; a failing script is reported
# and the rest still run. The memory, model and training benchmarks are left out: they
# measure what such a refactor does not touch (run them by name, see BENCHMARKS.md).
#
#     bash bench/rerun_all.sh            # all of them
#     bash bench/rerun_all.sh vfi yale   # those whose log name starts with one of these
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LOGS=bench/out/rerun
mkdir -p "$LOGS"
failed=0

bench() {  # NAME COMMAND...: run one benchmark unless names were given and none matches
    local name=$1; shift
    if [ ${#WANTED[@]} -gt 0 ]; then
        local hit=0
        for w in "${WANTED[@]}"; do [[ $name == $w* ]] && hit=1; done
        [ $hit = 1 ] || return 0
    fi
    local start=$SECONDS
    if OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$@" > "$LOGS/$name.log" 2>&1; then
        echo "ok      $name ($((SECONDS - start)) s)"
    else
        echo "FAILED  $name ($((SECONDS - start)) s): see $LOGS/$name.log"
        failed=1
    fi
}

WANTED=("$@")
bench vfi             $PY bench/vfi.py
bench yale            $PY bench/yale_smile.py
bench keyframes       $PY bench/keyframes.py
bench still-objects   $PY bench/still_overlay.py --kind objects
bench still-camera    $PY bench/still_overlay.py --kind camera
bench still-still     $PY bench/still_overlay.py --kind still-camera
bench alpha           $PY bench/alpha_edges.py --seeds 3
bench interp          $PY bench/interp_features.py
bench scene-cuts      $PY bench/scene_cuts.py
bench fallback        $PY bench/video_fallback.py
bench gif             $PY bench/gif_quality.py
bench speed           $PY bench/speed.py
bench video-scale     $PY bench/video_scale.py --part speed
bench warm-start      $PY bench/warm_start.py --scenes 10 --schedules 80,50,30 0,20,0 20,20,0
bench video-dev       $PY bench/video_dev.py
bench video-hd        $PY bench/video_dev.py --set video-hd --json video_hd
bench peers-hd        $PY bench/video_dev.py --set video-hd --video-only --peers --json video_hd_peers   # opencv: the bench extra
bench hd-refine-off   $PY bench/video_dev.py --set video-hd --video-only --fit 'refine="off"' --json video_hd_refine_off
bench peers-dev       $PY bench/video_dev.py --video-only --peers --json video_dev_peers
bench video-dev-batch $PY bench/video_dev.py --video-only --gap-batch 8 --json video_dev_batch8
bench gap-batch       $PY bench/gap_batch.py
bench real-sizes      $PY bench/real_sizes.py
bench ghosts          $PY bench/ghosts.py   # opencv for the DIS row: the bench extra
bench vfi-peers       $PY bench/vfi.py --peers
bench dev-g16         $PY bench/video_dev.py --video-only --peers --gs 16 --json video_dev_g16
exit $failed

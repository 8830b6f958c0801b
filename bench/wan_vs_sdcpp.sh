#!/usr/bin/env bash
# kinema against stable-diffusion.cpp (the C++ peer) on Wan2.1-T2V-1.3B (issue 8, Performance):
# identical random-weight checkpoints of the real architecture, identical settings, 2 threads,
# bf16 and q8_0. Captures the DiT step, umT5 and VAE decode times each program reports, total wall
# and peak RSS (GNU time -v); prints a markdown table and writes RESULTS/wan_vs_sdcpp.{json,md}.
# Method and results: docs/wan.md, "Speed against stable-diffusion.cpp".
#
#   bench/wan_vs_sdcpp.sh                      # the full comparison (run it on an idle machine)
#   SIZE=128x128 FRAMES=5 STEPS=1 DIT_LAYERS=2 UMT5_LAYERS=2 bench/wan_vs_sdcpp.sh   # smoke test
#
# Settings (environment):
#   WANBENCH   where the weights and runs go               [/tmp/wanbench]
#   KINEMA     the kinema binary                           [build/bin/kinema; built if missing]
#   SDCPP      stable-diffusion.cpp's sd-cli               [/tmp/sdcpp/build/bin/sd-cli]
#   SIZE       WxH                                         [512x320]
#   FRAMES STEPS THREADS SEED CFG SHIFT SAMPLER            [17 3 2 42 5 5 euler]
#   MODES      weight types to compare                     ["bf16 q8_0"]
#   ENGINES                                                ["kinema sdcpp"]
#   DIT_LAYERS UMT5_LAYERS  depth of the random models     [30 24: Wan2.1-T2V-1.3B, umT5-XXL]
#   SDCPP_ARGS extra sd-cli flags                          [--diffusion-fa, as its docs/wan.md]
#   PEAK_GFLOPS the bf16 peak the DiT step is divided by  [build/bench/bench_peak's, else 468]
#   RESULTS    where the table and JSON go                 [$WANBENCH/results]
#
# Building stable-diffusion.cpp (CPU, AVX-512 via GGML_NATIVE): see docs/wan.md. Needs about
# 40 GB of disk under WANBENCH at full size (the umT5-XXL is written twice, in Wan's and in
# llama.cpp's tensor names, in bf16 and in q8_0) and about 20 GB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WANBENCH=${WANBENCH:-/tmp/wanbench}
SDCPP=${SDCPP:-/tmp/sdcpp/build/bin/sd-cli}
KINEMA=${KINEMA:-$ROOT/build/bin/kinema}
SIZE=${SIZE:-512x320}
FRAMES=${FRAMES:-17} STEPS=${STEPS:-3} THREADS=${THREADS:-2} SEED=${SEED:-42}
CFG=${CFG:-5} SHIFT=${SHIFT:-5} SAMPLER=${SAMPLER:-euler}
MODES=${MODES:-bf16 q8_0} ENGINES=${ENGINES:-kinema sdcpp}
DIT_LAYERS=${DIT_LAYERS:-30} UMT5_LAYERS=${UMT5_LAYERS:-24}
SDCPP_ARGS=${SDCPP_ARGS:---diffusion-fa}
RESULTS=${RESULTS:-$WANBENCH/results}
PY=/usr/bin/python3
HELP="$ROOT/bench/wan_vs_sdcpp.py"
PROMPT="a corgi runs along a beach at sunset, waves roll in, golden light"
NEGATIVE="blurry, static, overexposed, low quality, watermark, text"
W=${SIZE%x*} H=${SIZE#*x}
export OMP_NUM_THREADS=$THREADS

log() { echo "== $*" >&2; }

if [ ! -x "$KINEMA" ]; then
  log "building kinema (target kinema_cli)"
  flock /tmp/kinema-build.lock cmake --build build --target kinema_cli -j1 >/dev/null
fi
[ -x "$SDCPP" ] || { echo "no sd-cli at $SDCPP: build stable-diffusion.cpp first (docs/wan.md)" >&2; exit 1; }

# Weights: written once per depth and seed, reused by later runs.
WEIGHTS=$WANBENCH/weights-d${DIT_LAYERS}-t${UMT5_LAYERS}
if [ ! -f "$WEIGHTS/weights.json" ]; then
  log "writing random weights to $WEIGHTS"
  mkdir -p "$WEIGHTS"
  $PY "$HELP" weights "$WEIGHTS" --dit-layers "$DIT_LAYERS" --umt5-layers "$UMT5_LAYERS" \
      --tokenizer "$ROOT/models/default/tokenizer.model"
fi
WAN=$WEIGHTS/Wan2.1-T2V-1.3B SD=$WEIGHTS/sdcpp

# q8_0: the umT5 converted once by `kinema convert` (q8_0 matrices, f32 the rest) for both
# programs (Wan's names for kinema, llama.cpp's for sd.cpp); the DiT converts on load in both
# (--type q8_0). A second release directory links everything else.
if [[ " $MODES " == *" q8_0 "* ]]; then
  for pair in "$WAN/models_t5_umt5-xxl-enc-bf16.pth:$WEIGHTS/umt5-wan-q8_0.gguf" \
              "$SD/umt5-xxl-encoder-bf16.safetensors:$SD/umt5-xxl-encoder-q8_0.gguf"; do
    if [ ! -f "${pair#*:}" ]; then
      log "converting ${pair%%:*} to q8_0"
      "$KINEMA" convert "${pair%%:*}" "${pair#*:}.tmp" --type q8_0 >&2 && mv "${pair#*:}.tmp" "${pair#*:}"
    fi
  done
  Q=$WEIGHTS/Wan2.1-T2V-1.3B-q8_0
  mkdir -p "$Q"
  for f in config.json diffusion_pytorch_model.safetensors Wan2.1_VAE.pth google; do ln -sfn "../Wan2.1-T2V-1.3B/$f" "$Q/$f"; done
  ln -sfn ../umt5-wan-q8_0.gguf "$Q/models_t5_umt5-xxl-enc-bf16.pth"
fi

# The bf16 peak the DiT step is a fraction of: measured in this run where bench_peak is built.
PEAK_SOURCE="given"
if [ -z "${PEAK_GFLOPS:-}" ]; then
  if [ -x build/bench/bench_peak ]; then
    PEAK_GFLOPS=$(build/bench/bench_peak | $PY -c 'import json,sys
for l in sys.stdin:
    if l.startswith("{"):
        r = json.loads(l)
        if "bf16" in r["case"]: print(r["value"])' | head -1)
    PEAK_SOURCE="bench_peak, this run"
  fi
  [ -n "${PEAK_GFLOPS:-}" ] || { PEAK_GFLOPS=468; PEAK_SOURCE="nominal 2-core figure"; }
fi

RUN=$RESULTS/runs
mkdir -p "$RUN"
rm -f "$RUN"/*.log "$RUN"/*.time
$PY - "$RUN/settings.json" <<EOF
import json, sys
json.dump({"weights_dir": "$WEIGHTS", "width": $W, "height": $H, "frames": $FRAMES, "steps": $STEPS,
           "threads": $THREADS, "seed": $SEED, "cfg": $CFG, "shift": $SHIFT, "sampler": "$SAMPLER",
           "modes": "$MODES".split(), "engines": "$ENGINES".split(), "peak_bf16_gflops": float("$PEAK_GFLOPS"),
           "peak_source": "$PEAK_SOURCE", "sdcpp_args": "$SDCPP_ARGS", "prompt": "$PROMPT", "negative": "$NEGATIVE",
           "kinema": "$KINEMA", "sdcpp": "$SDCPP", "host": "$(hostname)",
           "kinema_commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"}, open(sys.argv[1], "w"), indent=2)
EOF

run_kinema() {  # mode
  local model=$WAN type=()
  if [ "$1" = q8_0 ]; then model=$Q type=(--type q8_0); fi
  /usr/bin/time -v -o "$RUN/kinema-$1.time" "$KINEMA" generate "$PROMPT" --model "$model" "${type[@]}" \
      --negative "$NEGATIVE" --size "${W}x${H}" --frames "$FRAMES" --steps "$STEPS" --cfg "$CFG" \
      --shift "$SHIFT" --sampler "$SAMPLER" --seed "$SEED" --threads "$THREADS" \
      --no-frame-review --preview none -o "$RUN/kinema-$1.mp4"
}

run_sdcpp() {  # mode
  local t5=$SD/umt5-xxl-encoder-bf16.safetensors type=()
  if [ "$1" = q8_0 ]; then t5=$SD/umt5-xxl-encoder-q8_0.gguf type=(--type q8_0); fi
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "$RUN/sdcpp-$1.time" "$SDCPP" -M vid_gen -v \
      --diffusion-model "$SD/wan2.1_t2v_1.3B_bf16.safetensors" --vae "$SD/wan_2.1_vae.safetensors" \
      --t5xxl "$t5" "${type[@]}" $SDCPP_ARGS -p "$PROMPT" -n "$NEGATIVE" -W "$W" -H "$H" \
      --video-frames "$FRAMES" --steps "$STEPS" --cfg-scale "$CFG" --flow-shift "$SHIFT" \
      --sampling-method "$SAMPLER" -s "$SEED" -t "$THREADS" -o "$RUN/sdcpp-$1.avi"
}

for mode in $MODES; do
  for engine in $ENGINES; do
    log "$engine $mode"
    if ! "run_$engine" "$mode" >"$RUN/$engine-$mode.log" 2>&1; then
      echo "$engine $mode failed; the end of its log:" >&2
      tail -5 "$RUN/$engine-$mode.log" >&2
    fi
  done
done

$PY "$HELP" report "$RUN" "$RESULTS/wan_vs_sdcpp.json" "$RESULTS/wan_vs_sdcpp.md"
log "results: $RESULTS/wan_vs_sdcpp.md and .json; logs in $RUN"

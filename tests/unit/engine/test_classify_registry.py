"""Classifier versions side by side (oculus.classify.registry): the index, loading by version,
the default, and an unknown version as the caller's mistake."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from oculus.classify import registry
from oculus.errors import InputError, ModelError
from oculus.options import ClassifyOptions
from oculus.tasks import run_task


def test_the_shipped_index_names_a_default_it_serves_and_every_version_has_a_loadable_card():
    index = registry.read_index()
    assert index["default"] in index["versions"]
    for version in index["versions"]:
        card = registry.version_card(version)
        assert card.version == version and card.data["release"]  # the card's own stamp is kept
        assert card.model_file()[1].is_file()


def test_two_versions_are_listed_with_their_facts_and_the_default(two_model_versions):
    catalogue = registry.catalogue(two_model_versions)
    default = registry.default_version(two_model_versions)
    assert catalogue["default"] == default
    assert [v["version"] for v in catalogue["versions"]] == [default, "candidate"]
    for facts in catalogue["versions"]:
        assert facts["classes"] == ["glioma", "meningioma", "no_tumor", "pituitary"]
        assert 0 < facts["measured"]["accuracy"] <= 1 and facts["confidence_threshold"] > 0


def test_each_version_answers_under_its_own_key_and_loads_once(two_model_versions):
    image = np.full((96, 96), 90, np.uint8)
    candidate = registry.load_version("candidate", two_model_versions)
    default = registry.load_version(None, two_model_versions)
    assert candidate.classify(image)["model"]["version"] == "candidate"
    assert default.classify(image)["model"]["version"] == registry.default_version(two_model_versions)
    assert registry.load_version("candidate", two_model_versions) is candidate  # cached per process
    assert candidate is not default


def test_an_unknown_version_is_a_4xx_that_names_the_versions_there_are(two_model_versions):
    with pytest.raises(InputError) as error:
        registry.load_version("v999", two_model_versions)
    assert error.value.code == "unknown_model_version" and 400 <= error.value.http_status < 500
    assert "candidate" in error.value.message and registry.default_version(two_model_versions) in error.value.message


@pytest.mark.parametrize("index", [{"default": "v3", "versions": ["v1"]}, {"default": "v1", "versions": []},
                                   {"default": "v1", "versions": ["v1", "v1"]}, {"default": "../x", "versions": ["../x"]}])
def test_a_broken_index_is_a_model_error(tmp_path, index):
    (tmp_path / "versions.json").write_text(json.dumps(index))
    with pytest.raises(ModelError):
        registry.read_index(tmp_path)


def test_a_version_folder_the_index_does_not_name_is_not_served(two_model_versions, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(two_model_versions, folder, symlinks=True)
    (folder / "half-written").mkdir()
    assert "half-written" not in registry.available_versions(folder)
    with pytest.raises(InputError):
        registry.version_card("half-written", folder)


def test_the_environment_points_a_whole_server_at_another_models_folder(two_model_versions, monkeypatch):
    monkeypatch.setenv("OCULUS_CLASSIFIER_MODELS", str(two_model_versions))
    assert "candidate" in registry.available_versions()


@pytest.mark.parametrize("bad", [7, "", "../v1", "v1/../../etc", "x" * 40])
def test_a_malformed_model_version_option_is_invalid_options(bad):
    with pytest.raises(InputError) as error:
        ClassifyOptions.from_mapping({"modelVersion": bad})
    assert error.value.code == "invalid_options"


def test_a_classify_job_answers_with_the_version_its_options_name(two_model_versions, monkeypatch, tmp_path):
    monkeypatch.setenv("OCULUS_CLASSIFIER_MODELS", str(two_model_versions))
    image = tmp_path / "slice.png"
    Image.fromarray(np.tile(np.arange(128, dtype=np.uint8), (128, 1))).save(image)
    chosen = run_task("classify", image, tmp_path / "a", {"modelVersion": "candidate"})
    default = run_task("classify", image, tmp_path / "b", {})
    assert chosen["result"]["model"]["version"] == chosen["engine"]["version"] == "candidate"
    assert default["result"]["model"]["version"] == registry.default_version(two_model_versions)
    with pytest.raises(InputError) as error:
        run_task("classify", image, tmp_path / "c", {"modelVersion": "v999"})
    assert error.value.code == "unknown_model_version"

"""Keras -> ONNX export of a small real model, and both formats served from one card."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [
    pytest.mark.tensorflow,
    # Keras' own tensor -> numpy conversion trips a numpy 2 deprecation inside TF; not ours.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
keras = pytest.importorskip("keras")

from oculus.classify.arch import build_compact  # noqa: E402
from oculus.classify.export import export_onnx, onnx_predict  # noqa: E402
from oculus.classify.runtime import load_classifier  # noqa: E402


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """The compact architecture at 32 px with random (but real) weights and BN statistics."""
    keras.utils.set_random_seed(5)
    model = build_compact(32, widths=(8, 16, 16, 32))
    # move BN moving stats away from identity so the export has to carry them faithfully
    x = np.random.default_rng(0).random((16, 32, 32, 1)).astype(np.float32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * 1.3, b + 0.1, m + 0.05, v * 0.7])
    out = tmp_path_factory.mktemp("export")
    model.save(out / "model.keras")
    diff = export_onnx(model, out / "model.onnx", check_inputs=x)
    return model, out, x, diff


def test_keras_and_onnx_outputs_agree(small_model):
    model, out, x, diff = small_model
    assert diff is not None and diff < 1e-4
    k = keras.ops.convert_to_numpy(model(x, training=False))
    o = onnx_predict(out / "model.onnx", x)
    assert o.shape == (16, 4)
    assert np.std(k) > 1e-3  # the comparison means something only if outputs vary
    np.testing.assert_allclose(o, k, atol=1e-4)
    # batch dimension stays dynamic in the export
    np.testing.assert_allclose(onnx_predict(out / "model.onnx", x[:1]), k[:1], atol=1e-4)


def test_one_card_serves_keras_and_onnx_identically(small_model):
    _, out, _, _ = small_model
    card = {"name": "tiny", "version": "0", "classes": ["glioma", "meningioma", "no_tumor", "pituitary"],
            "files": {"onnx": "model.onnx", "keras": "model.keras"}, "default_format": "onnx",
            "input": {"shape": [32, 32, 1]}, "temperature": 1.7,
            "preprocessing": {"color_mode": "grayscale", "resize": "bilinear", "size": [32, 32], "scale": 1 / 255, "offset": 0}}
    (out / "card.json").write_text(json.dumps(card))
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (60, 50), dtype=np.uint8), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    onnx_clf, keras_clf = load_classifier(out / "card.json"), load_classifier(out / "card.json", fmt="keras")
    assert (onnx_clf.backend.format, keras_clf.backend.format) == ("onnx", "keras")
    np.testing.assert_allclose(onnx_clf.probabilities(images), keras_clf.probabilities(images), atol=1e-5)
    a = onnx_clf.predict(images)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-3 for r in a)


def _random_compact(seed):
    keras.utils.set_random_seed(seed)
    model = build_compact(32, widths=(8, 16, 16, 32))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * 1.3, b + 0.1, m + 0.05, v * 0.7])
    return model


def test_mirror_block_flips_left_right_exactly():
    from oculus.classify.ensemble import mirror_block

    x = np.random.default_rng(2).random((3, 8, 5, 1)).astype(np.float32)
    out = keras.ops.convert_to_numpy(mirror_block(8, 5, 1)(x))
    np.testing.assert_array_equal(out, x[:, :, ::-1, :])


def test_ensemble_with_flip_tta_is_one_model_that_exports_and_reloads(tmp_path):
    """Two members x {image, mirror} averaged inside one Keras model; ONNX and a reloaded .keras agree."""
    from oculus.classify.ensemble import build_ensemble

    members = [_random_compact(11), _random_compact(12)]
    x = np.random.default_rng(3).random((8, 32, 32, 1)).astype(np.float32)
    per_view = [keras.ops.convert_to_numpy(m(v, training=False)) for m in members for v in (x, x[:, :, ::-1, :])]
    model = build_ensemble(members, tta=True)
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.std(out) > 1e-3
    np.testing.assert_allclose(out, np.mean(per_view, 0), atol=1e-5)
    # the mirror view matters: the combined output differs from the members on the plain image only
    assert np.max(np.abs(out - np.mean(per_view[::2], 0))) > 1e-4
    model.save(tmp_path / "model.keras")
    diff = export_onnx(model, tmp_path / "model.onnx", check_inputs=x)
    assert diff is not None and diff < 1e-4
    np.testing.assert_allclose(onnx_predict(tmp_path / "model.onnx", x), out, atol=1e-4)
    reloaded = keras.models.load_model(tmp_path / "model.keras", compile=False)  # stock layers only
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x, training=False)), out, atol=1e-5)

"""The EfficientNetB3 path (used on AWS with ImageNet weights): preprocessing trap and ONNX export.

Weights cannot be downloaded here, so the backbone is built with weights=None; the graph,
its built-in rescaling/normalisation and the export are the same.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tensorflow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
keras = pytest.importorskip("keras")

from oculus.classify.arch import PREPROCESSING, build_efficientnetb3  # noqa: E402
from oculus.classify.export import export_onnx, onnx_predict  # noqa: E402


def test_keras_efficientnet_preprocess_input_is_a_no_op_so_we_feed_0_255():
    x = np.random.default_rng(0).random((1, 8, 8, 3)).astype(np.float32) * 255
    np.testing.assert_array_equal(keras.applications.efficientnet.preprocess_input(x), x)
    assert PREPROCESSING["efficientnetb3"]["scale"] == 1.0 and PREPROCESSING["efficientnetb3"]["color_mode"] == "rgb"


def test_efficientnet_exports_with_its_normalisation_baked_in(tmp_path):
    """Keras' own exporter leaves EfficientNet's Normalization constants as extra graph inputs;
    ours must produce a single-input model that matches Keras."""
    keras.utils.set_random_seed(1)
    model = build_efficientnetb3(64, weights=None)
    rescaling = [layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)]
    assert rescaling, "EfficientNet should carry its own rescaling"
    x = np.random.default_rng(2).random((2, 64, 64, 3)).astype(np.float32) * 255
    diff = export_onnx(model, tmp_path / "eff.onnx", check_inputs=x)
    import onnx

    proto = onnx.load(tmp_path / "eff.onnx")
    assert [i.name for i in proto.graph.input] == ["image"]
    assert diff < 1e-4
    assert onnx_predict(tmp_path / "eff.onnx", x).shape == (2, 4)

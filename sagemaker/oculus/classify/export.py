"""Keras -> ONNX export (tf2onnx), checked against Keras on the same inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oculus.errors import ModelError

#: Largest |Keras - ONNX| logit difference accepted after export.
EXPORT_TOLERANCE = 1e-3
INPUT_NAME = "image"


def export_onnx(model, path: Path, check_inputs: np.ndarray | None = None, opset: int = 17) -> float | None:
    """Write `model` as ONNX with one float32 NHWC input named "image" and a dynamic batch.

    With check_inputs, runs both and returns the max absolute output difference, raising
    ModelError above EXPORT_TOLERANCE so a bad export never ships.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT_NAME)
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(spec)  # same trace tf2onnx converts (tf.function caches it)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=opset)
    proto = freeze_captured_constants(proto, concrete)
    if [i.name for i in proto.graph.input] != [INPUT_NAME]:
        raise ModelError(f"ONNX export has unexpected inputs {[i.name for i in proto.graph.input]}", code="export_failed")
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    if check_inputs is None:
        return None
    diff = max_output_difference(model, Path(path), check_inputs)
    if diff > EXPORT_TOLERANCE:
        raise ModelError(f"ONNX export disagrees with Keras by {diff:.2e} (> {EXPORT_TOLERANCE})", code="export_mismatch")
    return diff


def freeze_captured_constants(proto, concrete):
    """Turn graph inputs that are captured eager constants into initializers.

    tf2onnx freezes variables but leaves captured constant tensors as extra graph inputs; Keras'
    EfficientNet captures its Normalization mean/variance that way, which makes the exported
    model demand them at run time. Their values are known at export: bake them in.
    """
    from onnx import numpy_helper

    captured = {t.name: v for t, v in zip(concrete.inputs[len(concrete.inputs) - len(concrete.captured_inputs):],
                                          concrete.captured_inputs, strict=True)}
    consumed = {name for node in proto.graph.node for name in node.input}
    for graph_input in list(proto.graph.input):
        if graph_input.name in captured:
            proto.graph.input.remove(graph_input)
            if graph_input.name in consumed:  # tf2onnx sometimes leaves them dangling: then just drop
                value = np.asarray(captured[graph_input.name].numpy())
                proto.graph.initializer.append(numpy_helper.from_array(value, graph_input.name))
    return proto


def onnx_predict(path: Path, inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """The ONNX model's outputs on ``inputs``, ``batch`` images per run (bounded memory)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name, x = sess.get_inputs()[0].name, inputs.astype(np.float32)
    return np.concatenate([sess.run(None, {name: x[s:s + batch]})[0] for s in range(0, len(x), batch)])


def max_output_difference(model, onnx_path: Path, inputs: np.ndarray) -> float:
    import keras

    keras_out = keras.ops.convert_to_numpy(model(inputs, training=False))
    return float(np.max(np.abs(keras_out - onnx_predict(onnx_path, inputs))))

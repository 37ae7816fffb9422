"""The ONNX-level ensemble (members without a Keras file, e.g. the PyTorch fine-tunes): one graph
whose output is the mean of the members' own outputs, checked against onnxruntime on each member."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from oculus.classify.ensemble import onnx_ensemble, save_with_member_weights
from oculus.classify.export import onnx_predict
from oculus.errors import ModelError

H, W, K = 12, 10, 4  # each member's weights (1,920 bytes) are big enough to leave the graph


def _member(path, seed: int, opset: int = 17):
    """A linear classifier over the flattened NHWC image; every member uses the SAME tensor names,
    so the combined graph only works if each member's names are kept apart."""
    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(H * W, K)).astype(np.float32), "weights")
    bias = numpy_helper.from_array(rng.normal(size=K).astype(np.float32), "bias")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"], axis=1),
         helper.make_node("Gemm", ["flat", "weights", "bias"], ["logits"])],
        "member", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", H, W, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", K])], [weights, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def members(tmp_path):
    return [_member(tmp_path / f"m{i}.onnx", seed) for i, seed in enumerate((1, 2, 3))]


@pytest.fixture
def images():
    # an asymmetric image, so its mirror really differs
    return np.random.default_rng(0).random((7, H, W, 1)).astype(np.float32)


def test_the_combined_graph_is_the_mean_of_the_members(members, images, tmp_path):
    path = tmp_path / "ensemble.onnx"
    onnx.save(onnx_ensemble(members, tta=False), str(path))
    each = [onnx_predict(m, images) for m in members]
    assert np.std(np.array(each), axis=0).max() > 0.1  # the members disagree, so the mean is informative
    np.testing.assert_allclose(onnx_predict(path, images), np.mean(each, 0), atol=1e-5)
    combined = onnx.load(str(path))
    assert [i.name for i in combined.graph.input] == ["image"] and [o.name for o in combined.graph.output] == ["logits"]
    assert len(combined.graph.initializer) == 2 * len(members)  # every member's weights, once


def test_flip_tta_averages_each_member_over_the_image_and_its_mirror(members, images, tmp_path):
    path = tmp_path / "ensemble_tta.onnx"
    onnx.save(onnx_ensemble(members, tta=True), str(path))
    mirrored = np.ascontiguousarray(images[:, :, ::-1, :])
    views = [onnx_predict(m, v) for m in members for v in (images, mirrored)]
    got = onnx_predict(path, images)
    np.testing.assert_allclose(got, np.mean(views, 0), atol=1e-5)
    assert np.max(np.abs(got - np.mean(views[::2], 0))) > 1e-3  # the mirror view is really used
    # batch of one, as the serving runtime sends it
    np.testing.assert_allclose(onnx_predict(path, images[:1]), got[:1], atol=1e-5)


def test_a_member_with_another_input_name_is_refused(members, tmp_path):
    odd = onnx.load(str(members[0]))
    odd.graph.input[0].name = "pixels"
    odd.graph.node[0].input[0] = "pixels"
    onnx.save(odd, str(tmp_path / "odd.onnx"))
    with pytest.raises(ModelError, match="one input named 'image'"):
        onnx_ensemble([members[1], tmp_path / "odd.onnx"])


def test_each_members_weights_are_saved_in_their_own_file_beside_the_graph(members, images, tmp_path):
    """No file grows with the number of members: the graph keeps only structure and small constants."""
    out = tmp_path / "v"
    out.mkdir()
    (out / "member0.onnx_data").write_bytes(b"stale")  # a rerun into the same folder must not append
    names = save_with_member_weights(onnx_ensemble(members, tta=False), out / "model.onnx")
    assert names == ["member0.onnx_data", "member1.onnx_data", "member2.onnx_data"]
    assert all((out / n).stat().st_size == H * W * K * 4 for n in names)
    assert (out / "model.onnx").stat().st_size < H * W * K * 4
    np.testing.assert_allclose(onnx_predict(out / "model.onnx", images),
                               np.mean([onnx_predict(m, images) for m in members], 0), atol=1e-5)

"""torchvision's MobileNet v2 as an ONNX graph, written with onnx alone, at any width, input side
and class count: the scaling workloads of ``benchmarks.sumcheck`` (widths 0.35, 0.5, 1.0;
inputs 96, 160, 224; 1000 classes, as ImageNet's).

The graph is the one torchvision builds (Sandler et al. 2018, torchvision's
``mobilenet_v2(width_mult=...)``), node for node as the TorchScript exporter writes it without
constant folding (``tests/zoo/torch/mobilenet_v2.onnx``, the zoo's export at width 1.0, 10
classes and 3x32x32, is the check: ``tests/test_torch_zoo.py``):

- a stem: 3x3 Conv, stride 2, to ``divisible(32 w)`` channels, BatchNormalization, ReLU6 (Clip
  to [0, 6]);
- inverted-residual blocks, by the table ``(t, c, n, s)`` below: n blocks of ``divisible(c w)``
  output channels, the first of stride s; each is a 1x1 expansion to ``t`` times its input
  channels (absent when t = 1), a 3x3 depthwise Conv of the block's stride, a 1x1 projection
  without activation, every Conv followed by its BatchNormalization, ReLU6 after the first two;
  the block's input is added to its output where the stride is 1 and the channels match;
- a 1x1 Conv to ``divisible(1280 max(1, w))`` channels, BatchNormalization, ReLU6, the global
  average pool, Flatten and the classifier's Gemm (the Dropout before it is the identity in eval).

Every Conv is without bias. The parameters are written cleared and filled by
``benchmarks.torch_zoo.fill_cleared_weights`` (visited in node order, so the width-1.0 graph of the
zoo's shape gets exactly the zoo export's weights).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from benchmarks.torch_zoo import fill_cleared_weights

# torchvision's inverted-residual table: expansion t, output channels c, repeats n, first stride s
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS = 32
LAST_CHANNELS = 1280
ROUND_TO = 8
BN_EPSILON = 1e-5


def divisible(v: float, divisor: int = ROUND_TO) -> int:
    """torchvision's channel rounding: the multiple of ``divisor`` nearest v, at least divisor,
    and not more than 10% below v."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def parameter_count(model: onnx.ModelProto) -> int:
    """torch's count of the net's parameters: every initializer but the BatchNormalizations'
    running statistics (3,504,872 at width 1.0 and 1000 classes)."""
    statistics = ("running_mean", "running_var")
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if not t.name.endswith(statistics))


def mobilenet_v2(width: float = 1.0, side: int = 224, classes: int = 1000, seed: int = 0) -> onnx.ModelProto:
    """The net as ONNX (opset 17, batch axis ``N``, input ``x`` of 3 x side x side, output ``y``),
    with its parameters drawn by ``fill_cleared_weights`` under ``seed``."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def cleared(name: str, shape) -> str:
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
        inits.append(tensor)
        return name

    def constant(value: float) -> str:
        name = f"const{len(nodes)}"
        value_tensor = helper.make_tensor(name, TensorProto.FLOAT, [], [value])
        nodes.append(helper.make_node("Constant", [], [name], value=value_tensor))
        return name

    def conv(x: str, c_in: int, c_out: int, k: int, stride: int, groups: int, relu6: bool, name: str) -> str:
        pad = k // 2
        w = cleared(f"{name}.weight", (c_out, c_in // groups, k, k))
        y = f"{name}.conv"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, w],
                [y],
                dilations=[1, 1],
                group=groups,
                kernel_shape=[k, k],
                pads=[pad] * 4,
                strides=[stride, stride],
            )
        )
        bn = [cleared(f"{name}.bn.{p}", (c_out,)) for p in ("weight", "bias", "running_mean", "running_var")]
        z = f"{name}.bn"
        nodes.append(
            helper.make_node("BatchNormalization", [y, *bn], [z], epsilon=BN_EPSILON, momentum=0.9, training_mode=0)
        )
        if not relu6:
            return z
        low, high = constant(0.0), constant(6.0)
        out = f"{name}.relu6"
        nodes.append(helper.make_node("Clip", [z, low, high], [out]))
        return out

    c = divisible(STEM_CHANNELS * width)
    x = conv("x", 3, c, 3, 2, 1, True, "features.0")
    index = 1
    for t, c_out, n, s in BLOCKS:
        out = divisible(c_out * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = int(round(c * t))
            h = x
            if t != 1:
                h = conv(h, c, hidden, 1, 1, 1, True, f"features.{index}.expand")
            h = conv(h, hidden, hidden, 3, stride, hidden, True, f"features.{index}.depthwise")
            h = conv(h, hidden, out, 1, 1, 1, False, f"features.{index}.project")
            if stride == 1 and c == out:
                nodes.append(helper.make_node("Add", [x, h], [f"features.{index}.add"]))
                h = f"features.{index}.add"
            x, c = h, out
            index += 1
    last = divisible(LAST_CHANNELS * max(1.0, width))
    x = conv(x, c, last, 1, 1, 1, True, f"features.{index}")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    w, b = cleared("classifier.weight", (classes, last)), cleared("classifier.bias", (classes,))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["y"], alpha=1.0, beta=1.0, transB=1))
    graph = helper.make_graph(
        nodes,
        f"mobilenet_v2_{width}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return fill_cleared_weights(model, seed)

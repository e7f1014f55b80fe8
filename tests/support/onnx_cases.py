"""Tiny ONNX models built with onnx.helper: the import cases, the data-movement, the
piecewise-linear, the transcendental, the arithmetic and the recurrent op cases, and onnxruntime to
run them as the reference."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize

n = helper.make_node
i64 = np.int64

FLOAT = onnx.TensorProto.FLOAT


def make_model(nodes, input_shape, output_shape, weights=None, opset=13) -> onnx.ModelProto:
    """A one-input one-output ONNX model; ``weights`` become float32 initializers."""
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in (weights or {}).items()]
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", FLOAT, ["N", *input_shape])],
        [helper.make_tensor_value_info("y", FLOAT, ["N", *output_shape])],
        inits,
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = max(8, helper.find_min_ir_version_for(opsets))
    return model


def onnxruntime_run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.astype(np.float32)})[0]


def w(rng, *shape, scale=0.5):
    return rng.normal(0, scale, shape).astype(np.float32)


def gemm(name, inp, out, transB=1, **attrs):
    return helper.make_node("Gemm", [inp, f"{name}.W", f"{name}.b"], [out], name=name, transB=transB, **attrs)


def flat(inp, out="y"):
    return helper.make_node("Flatten", [inp], [out], name=f"flatten_{out}", axis=1)


def const(out, value):
    """A Constant node holding ``value`` with its own dtype (initializers here are float32)."""
    return helper.make_node(
        "Constant", [], [out], name=f"const_{out}", value=numpy_helper.from_array(np.asarray(value))
    )


def shape_arithmetic(r):
    """What exporters emit around a flatten and a mask: Shape, Gather on the shape, Unsqueeze,
    Concat, Range, Mod, Equal, Where, ConstantOfShape, Squeeze, Cast and Expand, all on
    constants, around three real ops (reshape, mul, add) and a dense."""
    n = helper.make_node
    i64 = np.int64
    nodes = [
        n("Shape", ["x"], ["s"], name="shape"),
        const("k0", i64(0)),
        const("k1", i64(1)),
        const("k2", i64(2)),
        const("k3", i64(3)),
        const("axes0", np.array([0], i64)),
        const("minus1", np.array([-1], i64)),
        n("Gather", ["s", "k0"], ["batch"], name="batch"),
        n("Unsqueeze", ["batch", "axes0"], ["batch1"], name="batch1"),
        n("Concat", ["batch1", "minus1"], ["target"], name="target", axis=0),
        n("Reshape", ["x", "target"], ["flat"], name="flatten"),
        n("Gather", ["s", "k1"], ["d1"], name="d1"),
        n("Gather", ["s", "k2"], ["d2"], name="d2"),
        n("Gather", ["s", "k3"], ["d3"], name="d3"),
        n("Mul", ["d1", "d2"], ["d12"], name="d12"),
        n("Mul", ["d12", "d3"], ["size"], name="size"),
        n("Range", ["k0", "size", "k1"], ["index"], name="index"),
        n("Mod", ["index", "k2"], ["parity"], name="parity"),
        n("Equal", ["parity", "k0"], ["even"], name="even"),
        const("half", np.float32(0.5)),
        const("minus_quarter", np.float32(-0.25)),
        n("Where", ["even", "half", "minus_quarter"], ["mask"], name="mask"),
        n("Mul", ["flat", "mask"], ["masked"], name="masked"),
        n("Unsqueeze", ["size", "axes0"], ["size1"], name="size1"),
        n(
            "ConstantOfShape",
            ["size1"],
            ["eighths"],
            name="eighths",
            value=numpy_helper.from_array(np.array([0.125], np.float32)),
        ),
        n("Unsqueeze", ["eighths", "axes0"], ["eighths_row"], name="eighths_row"),
        n("Squeeze", ["eighths_row", "axes0"], ["eighths_again"], name="eighths_again"),
        n("Cast", ["k1"], ["one"], name="one", to=FLOAT),
        n("Expand", ["one", "size1"], ["ones"], name="ones"),
        n("Add", ["eighths_again", "ones"], ["offset"], name="offset"),
        n("Add", ["masked", "offset"], ["shifted"], name="shifted"),
        gemm("g", "shifted", "y"),
    ]
    return nodes, (2, 3, 4), (4,), {"g.W": w(r, 4, 24), "g.b": w(r, 4)}


# case name -> (nodes, input shape, output shape, weights(rng)); every op of the supported list
CASES = {
    "shape_arithmetic_folded": shape_arithmetic,
    "gemm": (lambda r: ([gemm("g", "x", "y", alpha=0.5, beta=2.0)], (8,), (4,), {"g.W": w(r, 4, 8), "g.b": w(r, 4)})),
    "gemm_transB0_rowbias": (
        lambda r: ([gemm("g", "x", "y", transB=0)], (8,), (4,), {"g.W": w(r, 8, 4), "g.b": w(r, 1, 4)})
    ),
    "matmul_add_bias": (
        lambda r: (
            [
                helper.make_node("MatMul", ["x", "m"], ["h"], name="mm"),
                helper.make_node("Add", ["h", "c"], ["y"], name="bias"),
            ],
            (8,),
            (4,),
            {"m": w(r, 8, 4), "c": w(r, 4)},
        )
    ),
    "add_sub_two_tensors": (
        lambda r: (
            [
                gemm("a", "x", "ha"),
                gemm("b", "x", "hb"),
                helper.make_node("Sub", ["ha", "hb"], ["d"], name="sub"),
                helper.make_node("Add", ["d", "x"], ["y"], name="add"),
            ],
            (8,),
            (8,),
            {"a.W": w(r, 8, 8), "a.b": w(r, 8), "b.W": w(r, 8, 8, scale=0.05), "b.b": w(r, 8)},
        )
    ),
    "identity_read_twice": (
        lambda r: (
            [
                gemm("g", "x", "h"),
                helper.make_node("Identity", ["h"], ["hi"], name="id"),
                helper.make_node("Add", ["hi", "c"], ["a"], name="add_c"),
                helper.make_node("Relu", ["hi"], ["rl"], name="relu"),
                helper.make_node("Add", ["a", "rl"], ["y"], name="add"),
            ],
            (8,),
            (4,),
            {"g.W": w(r, 4, 8), "g.b": w(r, 4), "c": w(r, 4)},
        )
    ),
    "const_minus_tensor": (
        lambda r: ([helper.make_node("Sub", ["c", "x"], ["y"], name="sub")], (8,), (8,), {"c": w(r, 8)})
    ),
    "mul_square_and_const": (
        lambda r: (
            [
                gemm("g", "x", "h"),
                helper.make_node("Mul", ["h", "h"], ["sq"], name="sq"),
                helper.make_node("Mul", ["sq", "c"], ["p"], name="scale"),
                helper.make_node("Mul", ["p", "x"], ["y"], name="mixed"),
            ],
            (8,),
            (8,),
            {"g.W": w(r, 8, 8), "g.b": w(r, 8), "c": w(r, 8)},
        )
    ),
    "conv_stride_pad_groups": (
        lambda r: (
            [
                helper.make_node(
                    "Conv",
                    ["x", "k", "kb"],
                    ["h"],
                    name="conv",
                    strides=[2, 2],
                    pads=[1, 0, 1, 2],
                    group=2,
                    kernel_shape=[3, 3],
                ),
                flat("h"),
            ],
            (4, 7, 7),
            (6 * 4 * 4,),
            {"k": w(r, 6, 2, 3, 3), "kb": w(r, 6)},
        )
    ),
    "conv_dilated": (
        lambda r: (
            [helper.make_node("Conv", ["x", "k"], ["h"], name="conv", pads=[2, 1, 1, 1], dilations=[2, 1]), flat("h")],
            (2, 6, 6),
            (3 * 7 * 6,),
            {"k": w(r, 3, 2, 2, 3)},
        )
    ),
    "conv_same_upper": (
        lambda r: (
            [
                helper.make_node("Conv", ["x", "k"], ["h"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2]),
                flat("h"),
            ],
            (2, 5, 6),
            (3 * 3 * 3,),
            {"k": w(r, 3, 2, 2, 3)},
        )
    ),
    "relu_maxpool_padded": (
        lambda r: (
            [
                helper.make_node("Relu", ["x"], ["r"], name="relu"),
                helper.make_node(
                    "MaxPool", ["x"], ["m"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
                ),
                flat("m", "fm"),
                flat("r", "fr"),
                helper.make_node("MatMul", ["fr", "proj"], ["pr"], name="proj"),
                helper.make_node("Add", ["fm", "pr"], ["y"], name="add"),
            ],
            (2, 6, 6),
            (18,),
            {"proj": w(r, 72, 18)},
        )
    ),
    "maxpool_negative_inputs": (
        lambda r: (
            [
                helper.make_node("Add", ["x", "c"], ["s"], name="shift"),
                helper.make_node("MaxPool", ["s"], ["m"], name="pool", kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
                flat("m"),
            ],
            (1, 4, 4),
            (25,),
            {"c": np.full((1, 1, 1), -3.0)},
        )
    ),
    "averagepool_pow2_and_not": (
        lambda r: (
            [
                helper.make_node("AveragePool", ["x"], ["a"], name="avg4", kernel_shape=[2, 2], strides=[2, 2]),
                helper.make_node(
                    "AveragePool",
                    ["x"],
                    ["b"],
                    name="avg9",
                    kernel_shape=[3, 3],
                    strides=[3, 3],
                    pads=[1, 1, 1, 1],
                    count_include_pad=1,
                ),
                flat("a", "fa"),
                flat("b", "fb"),
                helper.make_node("MatMul", ["fb", "proj"], ["pb"], name="proj"),
                helper.make_node("Add", ["fa", "pb"], ["y"], name="add"),
            ],
            (2, 8, 8),
            (32,),
            {"proj": w(r, 18, 32)},
        )
    ),
    "global_average_pool": (
        lambda r: ([helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"), flat("g")], (3, 7, 5), (3,), {})
    ),
    "reshape_identity_constant": (
        lambda r: (
            [
                helper.make_node(
                    "Constant", [], ["shape"], name="shape", value=numpy_helper.from_array(np.array([-1, 12], np.int64))
                ),
                helper.make_node("Constant", [], ["c"], name="offset", value_float=0.25),
                helper.make_node("Identity", ["x"], ["xi"], name="id"),
                helper.make_node("Reshape", ["xi", "shape"], ["r"], name="reshape"),
                helper.make_node("Add", ["r", "c"], ["y"], name="add"),
            ],
            (3, 2, 2),
            (12,),
            {},
        )
    ),
}


def case_graph(case: str, rng):
    """CASES[case] imported and quantized on a random calibration batch: (graph, calibration)."""
    nodes, in_shape, out_shape, weights = CASES[case](rng)
    graph = import_model(make_model(nodes, in_shape, out_shape, weights))
    calibration = rng.normal(0, 1, (32, *in_shape))
    return quantize(graph, calibration), calibration


# case -> (nodes, input shape, output shape, opset, the kinds of the float graph)
MOVES = {
    "transpose": (
        [n("Transpose", ["x"], ["t"], name="t", perm=[0, 2, 3, 1]), flat("t")],
        (2, 3, 4),
        (24,),
        13,
        ["transpose", "reshape"],
    ),
    "concat_scales_and_constant": (
        [
            const("quarter", np.float32(0.25)),
            n("Mul", ["x", "quarter"], ["m"], name="m"),
            const("row", np.array([[[0.25, -0.75, 1.5]]], np.float32)),
            n("Concat", ["x", "m", "row"], ["c"], name="c", axis=1),
            flat("c"),
        ],
        (2, 3),
        (15,),
        13,
        ["mul", "concat", "reshape"],
    ),
    "split_input_sizes": (
        [
            const("sizes", np.array([1, 2, 3], i64)),
            n("Split", ["x", "sizes"], ["a", "b", "c"], name="split", axis=1),
            n("Concat", ["c", "a"], ["ca"], name="ca", axis=1),
            flat("ca"),
        ],
        (6, 2),
        (8,),
        13,
        ["slice", "slice", "slice", "concat", "reshape"],
    ),
    "split_num_outputs": (
        [n("Split", ["x"], ["a", "b"], name="split", axis=-1, num_outputs=2), flat("b")],
        (2, 5),
        (4,),
        18,
        ["slice", "slice", "reshape"],
    ),
    "slice_negative_steps": (
        [
            const("starts", np.array([1, -1], i64)),
            const("ends", np.array([4, -7], i64)),
            const("axes", np.array([1, 2], i64)),
            const("steps", np.array([2, -2], i64)),
            n("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"], name="slice"),
            flat("s"),
        ],
        (5, 6),
        (6,),
        13,
        ["slice", "reshape"],
    ),
    "gather_matrix_indices": (
        [
            const("idx", np.array([[3, 0], [-1, 3]], i64)),
            n("Gather", ["x", "idx"], ["g"], name="gather", axis=2),
            flat("g"),
        ],
        (3, 5),
        (12,),
        13,
        ["gather", "reshape"],
    ),
    "gather_scalar_index": (
        [const("idx", i64(-1)), n("Gather", ["x", "idx"], ["g"], name="gather", axis=1), flat("g")],
        (3, 4),
        (4,),
        13,
        ["gather", "reshape"],
    ),
    "squeeze_unsqueeze": (
        [
            const("a3", np.array([3], i64)),
            const("a1", np.array([1], i64)),
            n("Unsqueeze", ["x", "a3"], ["u"], name="unsqueeze"),
            n("Squeeze", ["u", "a1"], ["s"], name="squeeze"),
            flat("s"),
        ],
        (1, 4),
        (4,),
        13,
        ["reshape", "reshape", "reshape"],
    ),
    "reshape_copy_dim": (
        [const("shape", np.array([0, 3, 4], i64)), n("Reshape", ["x", "shape"], ["r"], name="reshape"), flat("r")],
        (2, 6),
        (12,),
        13,
        ["reshape", "reshape"],
    ),
    "pad_constant_value": (
        [
            const("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], i64)),
            const("fill", np.float32(0.5)),
            n("Pad", ["x", "pads", "fill"], ["p"], name="pad"),
            flat("p"),
        ],
        (2, 3, 3),
        (2 * 6 * 6,),
        13,
        ["pad", "reshape"],
    ),
    "pad_reflect_axes": (
        [
            const("pads", np.array([2, 1], i64)),
            const("axes", np.array([-1], i64)),
            n("Pad", ["x", "pads", "", "axes"], ["p"], name="pad", mode="reflect"),
            flat("p"),
        ],
        (2, 4),
        (2 * 7,),
        18,
        ["pad", "reshape"],
    ),
    "expand": (
        [const("shape", np.array([1, 3, 4], i64)), n("Expand", ["x", "shape"], ["e"], name="expand"), flat("e")],
        (3, 1),
        (12,),
        13,
        ["expand", "reshape"],
    ),
    "tile": (
        [const("reps", np.array([1, 2, 3], i64)), n("Tile", ["x", "reps"], ["t"], name="tile"), flat("t")],
        (2, 2),
        (24,),
        13,
        ["tile", "reshape"],
    ),
}
# case -> (nodes, input shape, output shape, exact against onnxruntime, kinds of the float graph)
OPS = {
    "neg": ([n("Neg", ["x"], ["a"], name="neg"), flat("a")], (2, 3), (6,), True, ["neg", "reshape"]),
    "abs": ([n("Abs", ["x"], ["a"], name="abs"), flat("a")], (2, 3), (6,), True, ["abs", "reshape"]),
    "relu6": (
        [const("lo", np.float32(0.0)), const("hi", np.float32(1.5)), n("Clip", ["x", "lo", "hi"], ["a"], name="r6")]
        + [flat("a")],
        (2, 3),
        (6,),
        True,
        ["clip", "reshape"],
    ),
    "clip_max_only": (
        [const("hi", np.float32(-0.5)), n("Clip", ["x", "", "hi"], ["a"], name="clip"), flat("a")],
        (4,),
        (4,),
        True,
        ["clip", "reshape"],
    ),
    "max_min_tensors_and_constant": (
        [
            const("quarter", np.float32(0.25)),
            n("Mul", ["x", "quarter"], ["m"], name="m"),
            n("Max", ["x", "m"], ["hi"], name="max"),
            const("c", np.array([[0.5, -0.25, 0.0]], np.float32)),
            n("Min", ["hi", "c"], ["a"], name="min"),
            flat("a"),
        ],
        (2, 3),
        (6,),
        True,
        ["mul", "max", "min", "reshape"],
    ),
    "leaky_relu": (
        [n("LeakyRelu", ["x"], ["a"], name="leaky", alpha=0.1), flat("a")],
        (2, 3),
        (6,),
        False,
        ["leakyrelu", "reshape"],
    ),
    "prelu_per_channel": (
        [const("slope", np.array([[0.25], [-0.5]], np.float32)), n("PRelu", ["x", "slope"], ["a"], name="prelu")]
        + [flat("a")],
        (2, 3),
        (6,),
        False,
        ["prelu", "reshape"],
    ),
    # prover.onnx.ops.linear: a product of two activations, x x^T, floored once
    "matmul_gram": (
        [n("Transpose", ["x"], ["t"], name="t", perm=[0, 2, 1]), n("MatMul", ["x", "t"], ["g"], name="gram")]
        + [flat("g")],
        (2, 3),
        (4,),
        False,
        ["transpose", "matmul", "reshape"],
    ),
    # prover.onnx.ops.transcendental: within one output unit (2**-t) of onnxruntime
    "sigmoid": ([n("Sigmoid", ["x"], ["a"], name="sigmoid"), flat("a")], (2, 3), (6,), False, ["sigmoid", "reshape"]),
    "tanh": ([n("Tanh", ["x"], ["a"], name="tanh"), flat("a")], (2, 3), (6,), False, ["tanh", "reshape"]),
    "erf": ([n("Erf", ["x"], ["a"], name="erf"), flat("a")], (2, 3), (6,), False, ["erf", "reshape"]),
    "softplus": ([n("Softplus", ["x"], ["a"], name="sp"), flat("a")], (2, 3), (6,), False, ["softplus", "reshape"]),
    "hard_sigmoid": (
        [n("HardSigmoid", ["x"], ["a"], name="hsig", alpha=0.25, beta=0.5), flat("a")],
        (2, 3),
        (6,),
        False,
        ["mul", "add", "clip", "reshape"],
    ),
    # prover.onnx.ops.arithmetic and reduce: the forms that read the same at opsets 13 and 18
    "div_by_power_of_two": (
        [const("four", np.float32(4.0)), n("Div", ["x", "four"], ["a"], name="div"), flat("a")],
        (2, 3),
        (6,),
        True,
        ["mul", "reshape"],
    ),
    "sqrt_of_abs": (
        [n("Abs", ["x"], ["ax"], name="abs"), n("Sqrt", ["ax"], ["a"], name="sqrt"), flat("a")],
        (2, 3),
        (6,),
        False,
        ["abs", "sqrt", "reshape"],
    ),
    "reduce_sum_axes_input": (
        [const("axes", np.array([2], i64)), n("ReduceSum", ["x", "axes"], ["a"], name="sum", keepdims=0), flat("a")],
        (2, 3),
        (2,),
        False,
        ["reducesum", "reshape"],
    ),
    "softmax_mid_graph": (
        [n("Softmax", ["x"], ["p"], name="softmax", axis=1), flat("p")],
        (3, 2),
        (6,),
        False,
        ["softmax", "reshape"],
    ),
}

# prover.onnx.ops.recurrent: case -> (operator, attributes, layout, what the model reads after it)
RECURRENT = {
    "rnn_y_h": ("RNN", {}, 0, "y_h"),
    "rnn_bidirectional_layout1_y": ("RNN", {"direction": "bidirectional"}, 1, "y"),
    "gru_y_h": ("GRU", {"linear_before_reset": 1}, 0, "y_h_gemm"),
    "gru_reset_after_y_last_step": ("GRU", {"linear_before_reset": 0}, 0, "y_last"),
    "gru_reverse_layout1_y": ("GRU", {"direction": "reverse", "linear_before_reset": 1}, 1, "y"),
    "lstm_y_h_gathered": ("LSTM", {}, 0, "y_h_gather"),
    "lstm_bidirectional_y_c": ("LSTM", {"direction": "bidirectional"}, 0, "y_c"),
}
RECURRENT_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def recurrent_model(case: str, rng, steps: int = 3, features: int = 2, hidden: int = 3):
    """RECURRENT[case] as an ONNX model of input [N, steps, features] with random weights and
    biases, and the model onnxruntime runs as its reference (the same for layout 0; for layout 1,
    which onnxruntime does not run, the layout-0 twin with Transposes around it). Layout 0 reads
    a batch-first input through a Transpose, as torch exports batch_first=True."""
    op_type, attrs, layout, read = RECURRENT[case]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    g = RECURRENT_GATES[op_type]
    weights = {
        "W": w(rng, dirs, g * hidden, features),
        "R": w(rng, dirs, g * hidden, hidden),
        "B": w(rng, dirs, 2 * g * hidden, scale=0.3),
        "head.W": w(rng, 4, dirs * hidden),
        "head.b": w(rng, 4),
    }
    outputs = ["Y", "Y_h"] + (["Y_c"] if op_type == "LSTM" else [])

    def build(layout: int):
        if layout == 0:
            nodes = [n("Transpose", ["x"], ["X"], name="batch_first", perm=[1, 0, 2])]
        else:
            nodes = [n("Identity", ["x"], ["X"], name="batch_first")]
        nodes.append(n(op_type, ["X", "W", "R", "B"], outputs, name="rnn", hidden_size=hidden, layout=layout, **attrs))
        # back to batch first: Y [seq, dirs, batch, hidden] and Y_h [dirs, batch, hidden] at layout 0
        y_perm, h_perm = ([2, 0, 1, 3], [1, 0, 2]) if layout == 0 else ([0, 1, 2, 3], [0, 1, 2])
        return nodes, y_perm, h_perm

    def tail(nodes, y_perm, h_perm):
        if read == "y":
            nodes += [n("Transpose", ["Y"], ["Yb"], name="y_back", perm=y_perm), flat("Yb")]
            return (steps * dirs * hidden,)
        if read in ("y_h", "y_c"):
            name = "Y_h" if read == "y_h" else "Y_c"
            nodes += [n("Transpose", [name], ["Hb"], name="h_back", perm=h_perm), flat("Hb")]
            return (dirs * hidden,)
        if read == "y_h_gemm":  # h_n[-1] of torch, squeezed, then a Linear
            nodes += [const("axis0", np.array([0], i64)), n("Squeeze", ["Y_h", "axis0"], ["last"], name="squeeze")]
        elif read == "y_h_gather":
            nodes += [const("minus1", i64(-1)), n("Gather", ["Y_h", "minus1"], ["last"], name="h_last", axis=0)]
        else:  # y_last: out[:, -1] after torch's Squeeze of the directions axis and its Transpose
            nodes += [
                const("axis1", np.array([1], i64)),
                n("Squeeze", ["Y", "axis1"], ["Ys"], name="squeeze_dirs"),
                n("Transpose", ["Ys"], ["Yb"], name="y_back", perm=[1, 0, 2]),
                const("minus1", i64(-1)),
                n("Gather", ["Yb", "minus1"], ["last"], name="y_last", axis=1),
            ]
        nodes.append(gemm("head", "last", "y"))
        return (4,)

    nodes, y_perm, h_perm = build(layout)
    out_shape = tail(nodes, y_perm, h_perm)
    model = make_model(nodes, (steps, features), out_shape, weights, opset=14)
    if layout == 0:
        return model, model, (steps, features)
    twin, _, _ = build(0)
    tail(twin, [2, 0, 1, 3], [1, 0, 2])
    return model, make_model(twin, (steps, features), out_shape, weights, opset=14), (steps, features)

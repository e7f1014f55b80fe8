"""The op registry: everything the pipeline knows about an op, in one entry per op.

An ``OpSpec`` is one op kind of the model graph (``prover.onnx.graph``): its input arity, the
stage it may appear in, its batched numpy semantics (the integer reference that
``prover.onnx.executor`` runs, and the float run the quantizer calibrates on), its quantization
rule (float op -> quantized ops, ``prover.onnx.quantize``) and its R1CS lowering
(``prover.circuit.compile``). An ``OnnxImport`` is one ONNX operator the importer accepts: the
function that lowers a node to graph ops, and the kinds it may emit.

The modules of this package, one per op family, each register their ops and ONNX operators;
``REGISTRY`` and ``IMPORTS`` are the only tables, and every stage reads them:

    linear.py       dense, conv                     Gemm, MatMul, Conv, BatchNormalization
    elementwise.py  add, sub, mul, relu, rescale    Add, Sub, Mul, Relu, Div (by a constant)
    pool.py         maxpool, sumpool, avgpool       MaxPool, AveragePool, GlobalAveragePool
    movement.py     reshape, transpose, slice,      Flatten, Reshape, Squeeze, Unsqueeze,
                    gather, concat, pad, expand,    Transpose, Slice, Split, Gather, Concat,
                    tile                            Pad, Expand, Tile, Identity, Cast (float)

    piecewise.py    neg, abs, clip, max, min,       Neg, Abs, Clip (ReLU6), Max, Min, LeakyRelu
                    leakyrelu
    transcendental.py
                    sigmoid, tanh, erf, exp,        Sigmoid, Tanh, Erf, Exp, HardSigmoid,
                    gelu, softplus (float; as a     HardSwish (the last two as mul, add,
                    relu plus *_residual tables:    clip), Gelu (opset 20), Softplus
                    gelu_residual,
                    gelu_tanh_residual,
                    softplus_residual)
    sklearn.py      (dense, sub, mul)               ai.onnx.ml: LinearClassifier, LinearRegressor,
                                                    Scaler (scikit-learn's exports, skl2onnx)

An operator of a domain other than the default one is keyed ``domain.op_type``
(``registry.onnx_key``: ``ai.onnx.ml.LinearClassifier``), in the same ``IMPORTS`` table. A
classifier's tail (ZipMap, the label output, a trailing Softmax, ArgMax, ArrayFeatureExtractor,
Normalizer, a post_transform) has no rule: ``prover.onnx.tail`` cuts it before the rules run and
records it, since the circuit proves the scores and the label as their argmax.

Any other operator is accepted on constant operands only: ``prover.onnx.fold`` evaluates it at
import.

Rule signatures (each stage passes its own context object):

- ``execute(*operands, **attrs) -> ndarray``: operands in ``Op.inputs`` order, tensors with a
  leading batch axis, constants without one;
- ``quantize(quantizer, op)``: appends the quantized ops for float ``op`` to the quantizer's
  graph (``prover.onnx.quantize._Quantizer``);
- ``lower(builder, lowering, op) -> Value``: adds the op's constraints and witness steps and
  returns its output (``prover.circuit.compile``);
- ``onnx(importer, node)``: lowers an ONNX node (``prover.onnx.importer.Importer``).
"""

from prover.onnx.ops import elementwise, linear, movement, piecewise, pool, sklearn, transcendental  # noqa: F401  (they register)
from prover.onnx.ops.registry import IMPORTS, REGISTRY, STAGES, OnnxImport, OpSpec, validate_graph

__all__ = ["IMPORTS", "REGISTRY", "STAGES", "OnnxImport", "OpSpec", "validate_graph"]

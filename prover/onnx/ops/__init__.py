"""The op registry: everything the pipeline knows about an op, in one entry per op.

An ``OpSpec`` is one op kind of the model graph (``prover.onnx.graph``): its input arity, the
stage it may appear in, its batched numpy semantics (the integer reference that
``prover.onnx.executor`` runs, and the float run the quantizer calibrates on), its quantization
rule (float op -> quantized ops, ``prover.onnx.quantize``) and its R1CS lowering
(``prover.circuit.compile``). An ``OnnxImport`` is one ONNX operator the importer accepts: the
function that lowers a node to graph ops, and the kinds it may emit.

The modules of this package, one per op family, each register their ops and ONNX operators;
``REGISTRY`` and ``IMPORTS`` are the only tables, and every stage reads them:

    linear.py       dense, conv, matmul             Gemm, MatMul (by constant weights: dense; of two
                                                    computed tensors: matmul), Conv,
                                                    BatchNormalization
    elementwise.py  add, sub, mul, relu, rescale    Add, Sub, Mul, Relu
    pool.py         maxpool, sumpool, avgpool       MaxPool, AveragePool, GlobalAveragePool
                                                    (and a ReduceMean over H and W)
    movement.py     reshape, transpose, slice,      Flatten, Reshape, Squeeze, Unsqueeze,
                    gather, concat, pad, expand,    Transpose, Slice, Split, Gather, Concat,
                    tile                            Pad, Expand, Tile, Identity, Cast (float)

    piecewise.py    neg, abs, clip, max, min,       Neg, Abs, Clip (ReLU6), Max, Min, LeakyRelu,
                    leakyrelu, prelu                PRelu (a constant slope per channel or scalar)
    transcendental.py
                    sigmoid, tanh, erf, exp,        Sigmoid, Tanh, Erf, Exp, HardSigmoid,
                    expneg, gelu, softplus (float;  HardSwish (the last two as mul, add,
                    as a relu plus *_residual       clip), Gelu (opset 20), Softplus; expneg
                    tables: gelu_residual,          (e^x, x <= 0) for softmax
                    gelu_tanh_residual,
                    softplus_residual)
    arithmetic.py   div, sqrt                       Div (by a constant: mul), Reciprocal, Sqrt,
                                                    Pow (exponents 2, 3, 0.5, -1)
    reduce.py       reducesum, reducemax,           ReduceSum, ReduceMean, ReduceMax, Softmax,
                    reducemean, softmax             LayerNormalization (as reducemean, sub,
                                                    mul, add, sqrt, div)
    recurrent.py    (dense, slice, add, sub, mul,   RNN, GRU, LSTM: unrolled over the static
                    sigmoid, tanh, concat,          sequence length (default activations, zero
                    reshape)                        initial state, layouts 0 and 1, any direction)
    sklearn.py      (dense, sub, mul)               ai.onnx.ml: LinearClassifier, LinearRegressor,
                                                    Scaler (scikit-learn's exports, skl2onnx)
    trees.py        trees                           ai.onnx.ml: TreeEnsembleClassifier,
                                                    TreeEnsembleRegressor (ml opset 1-3: forests,
                                                    boosted and single trees)

An operator of a domain other than the default one is keyed ``domain.op_type``
(``registry.onnx_key``: ``ai.onnx.ml.LinearClassifier``), in the same ``IMPORTS`` table. A
classifier's tail (ZipMap, the label output, a trailing Softmax or LogSoftmax, ArgMax,
ArrayFeatureExtractor, Normalizer, a post_transform) is cut by ``prover.onnx.tail`` before the
rules run and recorded, since the circuit proves the scores and the label as their argmax (a
Softmax elsewhere has its rule in ``reduce.py``).

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

from prover.onnx.ops import (  # noqa: F401  (they register)
    arithmetic,
    elementwise,
    linear,
    movement,
    piecewise,
    pool,
    recurrent,
    reduce,
    sklearn,
    transcendental,
    trees,
)
from prover.onnx.ops.registry import IMPORTS, REGISTRY, STAGES, OnnxImport, OpSpec, validate_graph

__all__ = ["IMPORTS", "REGISTRY", "STAGES", "OnnxImport", "OpSpec", "validate_graph"]

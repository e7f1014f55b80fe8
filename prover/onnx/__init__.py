"""ONNX models to quantized graphs: ``importer`` (ONNX -> float graph), ``quantize`` (float ->
fixed point by calibration), ``executor`` (the integer reference semantics), ``graph`` (the IR
and its specification), ``ops`` (the op registry: one entry per op with its import, semantics,
quantization and circuit lowering)."""

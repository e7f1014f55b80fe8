"""From a quantized model graph to an R1CS and its witness program.

``builder`` (wires, linear combinations, constraints in bulk, the witness program),
``gadgets`` (range checks, rescale, ReLU, max, argmax, pooling, linear layers, packing,
Poseidon), ``compile`` (one quantized op -> its gadget) and ``statements`` (the public
statements, such as inference).
"""

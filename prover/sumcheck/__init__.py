"""The sumcheck backend: proofs of the quantized graph whose cost is linear in the weights and
activations, not in the multiplies (../shared/DESIGN.md, "Two proving backends").

This package grows in steps (issue 15). What is here is the protocol core, each piece a plain
Python reference that the native kernels will be checked against:

- ``mle``: multilinear extensions over Fr. A table of ``2^n`` values ``f[b]`` is the function on
  the Boolean cube; its multilinear extension is ``f~(x) = sum_b f[b] * eq(x, b)`` with
  ``eq(x, b) = prod_i (x_i b_i + (1 - x_i)(1 - b_i))``. Variable 0 is the *most significant*
  bit of the index, so binding it keeps the table's halves contiguous.
- ``transcript``: the Fiat–Shamir transcript, a Poseidon (BN254, circomlib parameters) hash
  chain, cheap to recompute inside a Groth16 circuit (the wrapper of issue 16).
- ``protocol``: the sumcheck protocol (Lund, Fortnow, Karloff, Nisan) for
  ``H = sum_{b in {0,1}^n} sum_t c_t prod_j f_{t,j}~(b)``; each round the prover sends its
  univariate polynomial as its values at ``0, 2, .., d`` (the value at 1 follows from the
  round's claim), and the verifier enforces the degree bound ``d`` by the number of values.
- ``matmul``: Thaler's protocol for a matrix product ``C = A B`` (as in SafetyNets): a claim
  about ``C~(r_x, r_y)`` becomes claims about ``A~(r_x, r_z)`` and ``B~(r_z, r_y)`` by one
  sumcheck over the contracted index, of degree 2.
- ``commitment``: the multilinear commitment that settles such claims for committed tables
  (weights first): KZG over the phase-1 powers of tau with Gemini's folds (HyperKZG); one G1
  point per table, an opening checked by two pairings; hiding with a blind times a hashed
  generator.
- ``lookup``: range checks by logUp, the fraction sums proved by a GKR circuit (logUp-GKR), so
  that only the multiplicities are committed; what requantize, ReLU and every declared bound
  reduce to.
- ``wiring``: gathered views, tables whose entries are fixed linear combinations of another's
  (one sparse matrix per axis: a conv's operand, a max pool's windows, a reshape that moves
  entries), and the predicate that reduces a claim about a view to one about its source.
- ``inference``: a batch of a quantized graph's runs proved GKR-style from the output back to
  the input, op by op (dense, conv, rescale, relu, maxpool, mul, reshape so far), against the
  weights' commitments.

Zero knowledge, by composition. The walk's messages (round polynomials, the values of the
activations' extensions at the sumcheck points, the fraction trees' layers) are functions of the
weights and the input; masking each of them as Libra does (a masking polynomial per sumcheck and
a vanishing-polynomial mask per layer, each with its own openings) would double every op's
sumcheck and the wrapper's circuit. Instead the proof is split at the line the Groth16 wrapper of
issue 16 draws anyway:

- inside the wrapper, a private witness: the transcript, every sumcheck, the lookups and the
  batch opening's sumcheck, the inputs and outputs; Groth16 is perfectly zero-knowledge
  (Groth 2016, with the prover's r and s uniform), so nothing of them leaves it but the wrapper's
  public inputs;
- outside, checked with the pairing precompile: the commitments and the one HyperKZG opening.
  Every commitment is hiding (weights: blinds derived from the provider's secret seed; advice
  and multiplicities: fresh blinds each proof), so each is a uniform group element. The
  opening is of ``P + alpha M`` with ``M`` a fresh uniform mask (``batch_opening``), a uniform
  polynomial, so its folds, values and witnesses are those of a random table, and the blind B
  it reveals is uniform. The challenges that leave the wrapper (the opening's point, and the
  combination's coefficients, each with its own fresh ``c_kj``) are drawn after the mask's
  hiding commitment is absorbed: random-oracle outputs on fresh randomness, they say nothing
  of the witness.

A simulator that knows only the public statement draws uniform commitments, a uniform table for
the opened polynomial, uniform B, and simulates the Groth16 proof with its trapdoor: the view is
identically distributed, up to the random oracle's programming of the points it reveals. The
raw sumcheck proof, as ``model verify`` checks it off-chain, is sound but not zero-knowledge: it
is the wrapper's witness and the provider's to keep.
"""

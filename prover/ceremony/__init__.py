"""Setup ceremonies in snarkjs's formats, so that each side verifies the other's transcripts.

Phase 1, the powers of tau (.ptau): ``powersoftau`` (new, contribute, beacon),
``powersoftau_verify`` (a whole transcript; ``import_ptau`` for a public file),
``prepare_phase2`` (the Lagrange sections). Phase 2, per circuit (.zkey): ``phase2``
(contribute, beacon; the initial key is ``prover.groth16.setup``) and ``phase2_verify``;
``verify_setup`` checks both phases at once. Beneath them: ``keypair`` (contribution keys and
their proofs of knowledge), ``rng`` (the ChaCha stream, hash-to-G2, beacons) and ``blake2b``
(the resumable response hash). ``known_secret`` is the INSECURE ptau for tests and benchmarks.
"""

"""The Groth16 wrapper of the sumcheck backend (issue 16): the sumcheck verifier, traced into
one fixed R1CS per statement shape (``trace``), proved with the Groth16 backend, so that a
proof of any size settles on-chain for the price of one Groth16 check."""

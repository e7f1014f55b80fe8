"""Groth16 over BN254, one module per protocol step (keys, qap, setup, prove, verify)."""

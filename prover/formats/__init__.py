"""snarkjs/circom-compatible files: one shared binary container (``binfile``) and one reader and
writer per format (``r1cs``, ``wtns``, ``ptau``, ``zkey``, ``snarkjs_json``)."""

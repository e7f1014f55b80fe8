// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The Groth16 verifier interface of statements with many public inputs
/// @author zkml-market
/// @notice The snarkjs calldata ABI of a Groth16 verifier whose statement has any number of
/// public inputs, passed as a dynamic array: Groth16BatchVerifier implements it, and the
/// marketplace calls it for the batched inference statement (1 + 3N inputs: the model
/// commitment, then the N input commitments, labels and output commitments).
interface IGroth16BatchVerifier {
    /// @notice number of public inputs of the statement this verifier checks
    /// @return the length verifyProof's pubSignals must have
    function publicInputCount() external view returns (uint256);

    /// @notice Whether a proof is valid for the public inputs (false, never a revert, for an invalid
    /// proof, a wrong number of inputs or an input outside the field).
    /// @param a proof point A (G1)
    /// @param b proof point B (G2) as [[x_im, x_re], [y_im, y_re]]
    /// @param c proof point C (G1)
    /// @param pubSignals the statement's publicInputCount() public inputs, in wire order
    /// @return true when the proof verifies
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[] calldata pubSignals
    ) external view returns (bool);
}

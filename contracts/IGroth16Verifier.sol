// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The Groth16 verifier interface of every statement
/// @author zkml-market
/// @notice The snarkjs calldata ABI of a Groth16 verifier for a four-input statement:
/// Groth16Verifier implements it, and the marketplace, the accuracy audit and the retrieval
/// market call it for the inference, accuracy and retrieval statements.
interface IGroth16Verifier {
    /// @notice Whether a proof is valid for the public inputs (false, never a revert, for an
    /// invalid proof or an input outside the field).
    /// @param a proof point A (G1)
    /// @param b proof point B (G2) as [[x_im, x_re], [y_im, y_re]]
    /// @param c proof point C (G1)
    /// @param pubSignals the statement's four public inputs, in wire order
    /// @return true when the proof verifies
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata pubSignals
    ) external view returns (bool);
}

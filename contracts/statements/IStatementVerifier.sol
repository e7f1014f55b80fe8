// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The snarkjs calldata ABI of a Groth16 verifier for a four-input statement
/// (Groth16Verifier): what the accuracy audit and the retrieval market call.
interface IStatementVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata pubSignals
    ) external view returns (bool);
}

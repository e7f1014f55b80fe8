// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Pull payments
/// @notice A contract that settles by crediting accounts; money leaves only when an account
/// calls `withdraw`, so no settlement step ever sends ether or depends on a receiver.
abstract contract PullPayments {
    /// @notice BN254 scalar field order: every public input of a proof is below it.
    uint256 public constant SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice Wei each account can withdraw.
    mapping(address => uint256) public owed;

    /// @notice The caller is owed nothing.
    error NothingToWithdraw(address account);
    /// @notice Sending the ether failed (the receiver reverted); the credit is kept.
    error TransferFailed(address account, uint256 amount);

    /// @notice An account withdrew what it was owed.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Send the caller what it is owed.
    /// @return amount the wei sent
    function withdraw() external returns (uint256 amount) {
        amount = owed[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        owed[msg.sender] = 0; // before the interaction: a re-entering receiver finds nothing
        emit Withdrawn(msg.sender, amount);
        (bool sent,) = payable(msg.sender).call{value: amount}("");
        if (!sent) revert TransferFailed(msg.sender, amount);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Pull payments
/// @author zkml-market
/// @notice A contract that settles by crediting accounts; money leaves only when an account
/// calls `withdraw`, so no settlement step ever sends ether or depends on a receiver.
/// Children credit through `_credit` only; the balances are private to this base.
abstract contract PullPayments {
    /// @dev What each account can withdraw, plus one once the account is known (credited once,
    /// or enrolled ahead by `_enroll`): a credit then rewrites a non-zero slot (5k gas) instead
    /// of filling an empty one (22k), also after a withdrawal, which leaves the one in place.
    mapping(address => uint256) private _owedPlusOne;

    /// @notice The caller is owed nothing.
    /// @param account the caller
    error NothingToWithdraw(address account);
    /// @notice Sending the ether failed (the receiver reverted); the credit is kept.
    /// @param account the receiver
    /// @param amount the wei it was owed
    error TransferFailed(address account, uint256 amount);

    /// @notice An account withdrew what it was owed.
    /// @param account who was paid
    /// @param amount the wei sent
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Send the caller everything it is owed.
    /// @return amount the wei sent
    function withdraw() external returns (uint256 amount) {
        amount = owed(msg.sender);
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        // effects before the interaction: a re-entering receiver finds nothing owed
        _owedPlusOne[msg.sender] = 1;
        emit Withdrawn(msg.sender, amount);
        (bool sent,) = payable(msg.sender).call{value: amount}("");
        if (!sent) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Wei an account can withdraw.
    /// @param account the account
    /// @return the amount owed
    function owed(address account) public view returns (uint256) {
        uint256 stored = _owedPlusOne[account];
        return stored == 0 ? 0 : stored - 1;
    }

    /// @dev Owe `amount` more wei to `account` (it withdraws them later).
    function _credit(address account, uint256 amount) internal {
        uint256 stored = _owedPlusOne[account];
        _owedPlusOne[account] = (stored == 0 ? 1 : stored) + amount;
    }

    /// @dev Make `account` known before its first credit, so that the credit costs a slot
    /// rewrite (the one who enrols pays the slot, e.g. a provider when it registers).
    function _enroll(address account) internal {
        if (_owedPlusOne[account] == 0) _owedPlusOne[account] = 1;
    }
}

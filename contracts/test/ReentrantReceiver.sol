// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Marketplace} from "../Marketplace.sol";
import {PullPayments} from "../PullPayments.sol";

/// @title Test-only consumer that tries to withdraw again while being paid
/// @author zkml-market
/// @notice Opens and refunds a request through the marketplace, then withdraws; its receive
/// hook calls `withdraw` once more. The inner call's outcome is recorded instead of bubbling up,
/// so a test can see that the second withdrawal was refused while the first one was paid.
contract ReentrantReceiver {
    /// @notice The marketplace it pays and withdraws from.
    Marketplace public immutable market;
    /// @notice Times the receive hook ran.
    uint256 public receipts;
    /// @notice Whether the re-entering withdraw succeeded (it must not).
    bool public reentrySucceeded;
    /// @notice When set, the receive hook reverts: the payment must then fail as a whole.
    bool public refusePayment;

    /// @notice Deploy against a marketplace.
    /// @param market_ the marketplace
    constructor(Marketplace market_) {
        market = market_;
    }

    /// @notice Open a request as the consumer, forwarding the payment.
    /// @param modelId the model
    /// @param inputCommitment commitment to the input
    /// @param deadline the request's deadline
    /// @return the request id
    function open(uint256 modelId, uint256 inputCommitment, uint256 deadline) external payable returns (uint256) {
        return market.openRequest{value: msg.value}(modelId, inputCommitment, deadline);
    }

    /// @notice Refund a request this contract opened.
    /// @param terms the terms it opened the request with
    function refund(Marketplace.Terms calldata terms) external {
        market.refund(terms);
    }

    /// @notice Withdraw what the marketplace owes this contract.
    function attack() external {
        market.withdraw();
    }

    /// @notice Make the receive hook revert (or accept again).
    /// @param refuse whether the hook reverts
    function setRefusePayment(bool refuse) external {
        refusePayment = refuse;
    }

    /// @notice Take a payment; on the first one, try to withdraw again (the re-entry under test).
    receive() external payable { // solhint-disable-line no-complex-fallback
        // solhint-disable-next-line gas-custom-errors
        require(!refusePayment, "refused");
        receipts += 1;
        if (receipts == 1) {
            (bool ok,) = address(market).call(abi.encodeCall(PullPayments.withdraw, ()));
            reentrySucceeded = ok;
        }
    }
}

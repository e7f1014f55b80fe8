"""A connected web3: an in-process eth-tester chain (py-evm) by default, or any JSON-RPC node.

The embedded chain needs nothing started by hand; a URL (a local ``hardhat node``, a testnet)
selects the same code path over HTTP. Time moves with ``advance_time`` on both, so deadlines
can be tested the same way everywhere.

py-evm computes the pairing precompile (0x08, EIP-197) with py_ecc in pure Python, about a
second a pairing check: most of the time a proof's verification takes on the embedded chain.
Unless ``ZKMARKET_EMBEDDED_PAIRING=py_ecc`` is set, the embedded chain computes that one
precompile with arkworks' pairing instead (``prover.kernels.pairing_check``, itself checked
against py_ecc), with the same input rules: 192-byte records, coordinates below q, all zeros
for infinity, points on their curves and G2 points in the subgroup, anything else a failed
call. Gas, the other precompiles and the EVM stay py-evm's; a test checks both pairings agree
on valid, invalid and malformed inputs.
"""

from __future__ import annotations

import os
import sys
import time
from typing import cast

from web3 import HTTPProvider, Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint

from prover.errors import ChainError

# how long a JSON-RPC call may take before the node counts as unreachable
RPC_TIMEOUT_S = 30


def connect(url: str | None = None, timeout: float = RPC_TIMEOUT_S) -> Web3:
    """A web3 connected to ``url`` (HTTP JSON-RPC), or to a fresh in-process eth-tester chain
    with funded accounts when ``url`` is None. Raises ChainError when the node does not answer."""
    if url is None:
        from eth_tester import EthereumTester, PyEVMBackend

        if os.environ.get("ZKMARKET_EMBEDDED_PAIRING", "native") != "py_ecc":
            use_native_pairing()
        return Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend()), api_endpoints=_embedded_endpoints()))
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    try:
        _ = w3.eth.chain_id
    except Exception as exc:  # requests/aiohttp/web3 each raise their own connection errors
        raise ChainError(
            f"no Ethereum JSON-RPC node answers at {url} ({type(exc).__name__}): start one "
            f"(e.g. `npx hardhat node`) or pass the right URL"
        ) from exc
    return w3


def native_ecpairing(data: bytes) -> bool:
    """EIP-197's pairing check of ``data`` (192-byte records: G1 x, y, then G2 x_im, x_re,
    y_im, y_re, big-endian) by the native kernel. Raises eth_utils' ValidationError, as py-evm's
    own does, for a record that is no valid point pair; py-evm then fails the call."""
    from eth_utils import ValidationError

    from prover import kernels
    from prover.field import ints_to_limbs

    data = bytes(data)
    if len(data) % 192:
        raise ValidationError("pairing input is not a whole number of 192-byte records")
    n = len(data) // 192
    if n == 0:
        return True
    words = [int.from_bytes(data[32 * i : 32 * i + 32], "big") for i in range(6 * n)]
    g1 = ints_to_limbs([words[6 * k + j] for k in range(n) for j in (0, 1)]).reshape(n, 2, 4)
    # the kernels' G2 layout is py_ecc's, the real part first
    g2 = ints_to_limbs([words[6 * k + j] for k in range(n) for j in (3, 2, 5, 4)]).reshape(n, 2, 2, 4)
    try:
        return bool(kernels.pairing_check(g1, g2))
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def use_native_pairing() -> None:
    """Make py-evm's pairing precompile call ``native_ecpairing`` (idempotent)."""
    import importlib

    module = sys.modules.get("eth.precompiles.ecpairing") or importlib.import_module("eth.precompiles.ecpairing")
    if not hasattr(module, "_py_ecc_ecpairing"):
        module._py_ecc_ecpairing = module._ecpairing  # type: ignore[attr-defined]
    module._ecpairing = native_ecpairing  # type: ignore[attr-defined]


def _embedded_endpoints() -> dict:
    """eth-tester's JSON-RPC methods, with ``eth_sign`` as a node with unlocked accounts has it,
    so that a consumer signs through its node on both chains (``channel.sign_result_request``)."""
    from web3.providers.eth_tester.defaults import API_ENDPOINTS

    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints["eth"]["sign"] = _embedded_sign
    return endpoints


def _embedded_sign(tester, params) -> str:
    """``eth_sign(address, data)``: the EIP-191 personal-message signature of ``data`` by one of
    the in-process chain's accounts, with the key eth-tester made for it."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    address, data = params
    for key in tester.backend.account_keys:
        if key.public_key.to_checksum_address().lower() == str(address).lower():
            signed = Account.sign_message(encode_defunct(hexstr=data), key.to_bytes())
            return "0x" + bytes(signed.signature).hex()
    raise ChainError(f"eth_sign: {address} is not an account of the in-process chain")


def is_embedded(w3: Web3) -> bool:
    """Whether ``w3`` talks to the in-process eth-tester chain."""
    return isinstance(w3.provider, EthereumTesterProvider)


def latest_timestamp(w3: Web3) -> int:
    """The timestamp of the latest block: what the next transaction's ``block.timestamp``
    is compared with (it will be at least this)."""
    return int(w3.eth.get_block("latest")["timestamp"])


def chain_now(w3: Web3) -> int:
    """The time the next block will at least have: the latest block's on the in-process chain
    (its clock moves only by hand), else also the wall clock (a quiet node mines no blocks, yet
    its next block is stamped with the current time)."""
    now = latest_timestamp(w3)
    return now if is_embedded(w3) else max(now, int(time.time()))


def advance_time(w3: Web3, seconds: int) -> int:
    """Move the chain's clock forward by ``seconds`` and mine a block at the new time.
    Returns the new latest timestamp."""
    if seconds < 0:
        raise ValueError("time only moves forward")
    if is_embedded(w3):
        tester = cast(EthereumTesterProvider, w3.provider).ethereum_tester
        assert tester is not None, "an EthereumTesterProvider sets its tester when it is made"
        # the pending block may already be ahead of the latest one (eth-tester follows the
        # wall clock), and time travel must strictly move it forward
        pending = int(tester.get_block_by_number("pending")["timestamp"])
        tester.time_travel(max(latest_timestamp(w3) + seconds, pending + 1))
        tester.mine_blocks(1)
    else:
        try:
            w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
            w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        except Exception as exc:
            uri = cast(HTTPProvider, w3.provider).endpoint_uri  # connect() makes one for every URL
            raise ChainError(
                f"the node at {uri} cannot move time (evm_increaseTime): use a development node such as hardhat"
            ) from exc
    return latest_timestamp(w3)

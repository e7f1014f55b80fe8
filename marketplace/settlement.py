"""What the accuracy-audit and retrieval contracts share from Python: a binding with typed
sends, decoded reverts and pull-payment withdrawals, and their ``.npz`` hand-over files. Their
artifacts are built with the others by ``marketplace.contracts.build_artifacts``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from marketplace.contracts import deploy, load_artifact, transact, view
from prover.formats.binfile import atomic_output


def write_arrays(path, **arrays: np.ndarray) -> Path:
    """Write int64 arrays to a numpy ``.npz`` atomically, so an interrupted write leaves no
    half-written hand-over file."""
    with atomic_output(path, "wb") as out:
        np.savez(out, allow_pickle=False, **{k: np.asarray(v, dtype=np.int64) for k, v in arrays.items()})
    return Path(path)


def read_arrays(path, names: tuple[str, ...], what: str) -> list[np.ndarray]:
    """The named integer arrays of an ``.npz`` hand-over file; FormatError if it is not one."""
    from prover.errors import FormatError

    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[n] for n in names]
    except (OSError, ValueError, KeyError) as exc:
        raise FormatError(f"{path} is not a {what} file (.npz with {', '.join(names)}): {exc}") from exc
    if any(a.dtype.kind not in "iu" for a in arrays):
        raise FormatError(f"{path}: {', '.join(names)} must be integer arrays (quantized values)")
    return [a.astype(np.int64) for a in arrays]


class SettlementContract:
    """A deployed contract that settles by proofs and pays by ``withdraw``. Every send waits
    for its receipt (kept in ``last_receipt``); reverts raise ContractRevert(error, args)."""

    NAME = ""

    def __init__(self, w3: Web3, contract: Contract):
        self.w3 = w3
        self.contract = contract
        self.last_receipt = None
        self._abis = [contract.abi, load_artifact("ModelRegistry")["abi"], load_artifact("Groth16Verifier")["abi"]]

    @classmethod
    def deploy(cls, w3: Web3, *args, sender: str):
        contract, _ = deploy(w3, cls.NAME, *args, sender=sender)
        return cls(w3, contract)

    @classmethod
    def at(cls, w3: Web3, address: ChecksumAddress):
        return cls(w3, w3.eth.contract(address=address, abi=load_artifact(cls.NAME)["abi"]))

    def _send(self, call, sender: str, value: int = 0):
        self.last_receipt = transact(self.w3, call, sender, value, self._abis)
        return self.last_receipt

    def _event(self, receipt, name: str, field: str) -> int:
        (event,) = getattr(self.contract.events, name)().process_receipt(receipt)
        return int(event["args"][field])

    def _view(self, call):
        return view(call, self._abis)

    def withdraw(self, account: str) -> int:
        """Withdraw everything owed to ``account``; returns the wei sent."""
        return self._event(self._send(self.contract.functions.withdraw(), account), "Withdrawn", "amount")

    def owed(self, account: str) -> int:
        return int(self.contract.functions.owed(account).call())

    def balance(self) -> int:
        """Ether the contract holds."""
        return int(self.w3.eth.get_balance(self.contract.address))

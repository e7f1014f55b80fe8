"""What a provider keeps on disk, so that a restart resumes every pending request.

A provider's state directory holds:

- ``provider.json``: the marketplace address, the provider's account, the chain id, the
  registered model (id, commitment, where its setup files are) and the last block whose
  ``RequestsOpened`` events were read;
- ``requests/<id>.json``: one record per request for the provider's model, written when the
  request is seen on-chain (``waiting``), when its input arrives over the channel and matches
  the on-chain commitment (``received``: the input and salt are kept), when it is proved
  (``proved``: label, logits and the proof, written *before* the fulfil transaction is sent, so
  a provider killed while it is in flight still has the logits the chain now commits to), when
  the chain holds its result (``fulfilled``), when it can no longer be answered (``expired``,
  with the reason) or when its witness cannot be built (``failed``, with the reason: an input in
  range that overflows the model's quantized ranges; it is never computed again). ``times``
  keeps when the record entered each state (unix seconds).

Every write goes through ``atomic_output`` (temp file, then ``os.replace``): a provider killed at
any moment leaves each file either as it was or as it became, never half-written. Requests in
state ``received`` are what a restarted provider proves first; those in ``proved`` it settles
(sends the stored proof, or finds the chain already holds its result) without proving again.

The setup cache (``cache_dir``) holds compiled artifacts keyed by what they are made from (the
model's hash, the ceremony's participants), written the same way, so a second run reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Generic, TypeVar, overload

from prover.errors import ZkmarketError
from prover.formats.binfile import atomic_output

WAITING, RECEIVED, PROVED, FULFILLED, EXPIRED, FAILED = (
    "waiting",
    "received",
    "proved",
    "fulfilled",
    "expired",
    "failed",
)
STATES = (WAITING, RECEIVED, PROVED, FULFILLED, EXPIRED, FAILED)
# states a request never leaves: nothing about it is computed or sent again
FINAL_STATES = (FULFILLED, EXPIRED, FAILED)

T = TypeVar("T")


class StoreError(ZkmarketError):
    """The provider's state directory is unreadable or belongs to another deployment."""


def default_cache_dir() -> Path:
    """Where compiled circuits, ceremony files and keys are cached: ``$ZKMARKET_CACHE`` or
    ``~/.cache/zkmarket``."""
    return Path(os.environ.get("ZKMARKET_CACHE") or Path.home() / ".cache" / "zkmarket")


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, in hex (read in blocks: setup files are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, data) -> None:
    """Write JSON atomically (the previous file stays intact if this is interrupted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w") as out:
        json.dump(data, out, indent=1, sort_keys=True)
        out.write("\n")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{path} is unreadable ({exc}): restore it or start the provider with a fresh --state directory"
        ) from exc


class _Recorded(Generic[T]):
    """A field a request record holds once it reached ``stage``, read as ``record.<name>``:
    StoreError when it is missing (not there yet, or the record is damaged)."""

    def __init__(self, field_name: str, what: str, stage: str):
        self.field_name, self.what, self.stage = field_name, what, stage

    @overload
    def __get__(self, record: None, owner: type) -> _Recorded[T]: ...

    @overload
    def __get__(self, record: RequestState, owner: type | None = None) -> T: ...

    def __get__(self, record: RequestState | None, owner: type | None = None) -> T | _Recorded[T]:
        if record is None:  # read on the class
            return self
        value = getattr(record, self.field_name)
        if value is None:
            raise StoreError(
                f"request {record.request_id} (state {record.state}) has no {self.what}: it has not "
                f"been {self.stage} yet, or its record in requests/ is damaged (restore it, or let the "
                f"request expire and refund)"
            )
        return value


@dataclass
class RequestState:
    """A request for the provider's model, as far as the provider got with it."""

    request_id: int
    state: str = WAITING
    input_commitment: int = 0
    deadline: int = 0
    input: list | None = None  # the quantized input (ints), once received
    salt: int | None = None
    label: int | None = None
    logits: list | None = None
    output_commitment: int | None = None
    proof_seconds: float | None = None
    gas_used: int | None = None  # None when another account landed the fulfil
    proof: list | None = None  # (a, b, c) in EVM calldata order, once proved
    batch: list | None = None  # the request ids of its batch proof, in slot order, when proved in one
    reason: str | None = None  # why it failed or expired, or who fulfilled it
    times: dict = field(default_factory=dict)  # state -> unix time it was entered

    def enter(self, state: str, reason: str | None = None) -> RequestState:
        """Move to ``state`` (recording when, and why if ``reason``); returns the record."""
        if state not in STATES:
            raise ValueError(f"unknown request state {state!r}")
        self.state, self.reason = state, reason
        self.times = {**self.times, state: round(time.time(), 3)}
        return self

    # fields a request has from a stage on (the agent fills them on entry); StoreError before
    received_salt = _Recorded[int]("salt", "salt", "received")
    proved_label = _Recorded[int]("label", "label", "proved")
    proved_output_commitment = _Recorded[int]("output_commitment", "output commitment", "proved")
    proved_seconds = _Recorded[float]("proof_seconds", "proof time", "proved")

    def to_json(self) -> dict:
        data = asdict(self)
        # field elements as hex strings: JSON readers elsewhere lose precision on big ints
        for key in ("input_commitment", "salt", "output_commitment", "proof", "batch"):
            if data[key] is not None:
                data[key] = _hex_tree(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict) -> RequestState:
        data = dict(data)
        for key in ("input_commitment", "salt", "output_commitment", "proof", "batch"):
            if data.get(key) is not None:
                data[key] = _int_tree(data[key])
        if data.get("state") not in STATES:
            raise StoreError(f"request {data.get('request_id')} has unknown state {data.get('state')!r}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise StoreError(f"request {data.get('request_id')} is not a request record ({exc})") from exc


def _hex_tree(value):
    """Ints (in nested lists) as hex strings."""
    return [_hex_tree(v) for v in value] if isinstance(value, (list, tuple)) else hex(int(value))


def _int_tree(value):
    """The inverse of ``_hex_tree`` (plain ints pass through, as older records hold them)."""
    if isinstance(value, list):
        return [_int_tree(v) for v in value]
    return int(value, 16) if isinstance(value, str) else value


@dataclass
class ProviderState:
    """The provider's deployment: which chain, marketplace, account and model it serves."""

    chain_id: int
    marketplace: str
    account: str
    model_id: int | None = None
    model_commitment: int | None = None
    setup_dir: str | None = None  # the folder holding the model's spec, r1cs, ptau and zkey
    last_block: int = -1  # RequestsOpened events up to this block have been read
    # the batch statements registered with the model: kind -> {"size", "zkey", "verifier"}
    statements: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    # seconds the latest inference answers took to compute (witness + proof), newest last: what
    # the shortest deadline the provider accepts is measured from
    proof_seconds: list = field(default_factory=list)


class ProviderStore:
    """The provider's state directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.requests_dir = self.root / "requests"
        self.requests_dir.mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        return self.root / "provider.json"

    def load(self) -> ProviderState | None:
        """The saved deployment, or None for a fresh directory."""
        try:
            data = read_json(self.state_path)
        except FileNotFoundError:
            return None
        if isinstance(data.get("model_commitment"), str):
            data["model_commitment"] = int(data["model_commitment"], 16)
        try:
            return ProviderState(**data)
        except TypeError as exc:
            raise StoreError(f"{self.state_path} is not a provider state file ({exc})") from exc

    def save(self, state: ProviderState) -> None:
        data = asdict(state)
        if data["model_commitment"] is not None:
            data["model_commitment"] = hex(data["model_commitment"])
        write_json(self.state_path, data)

    def _request_path(self, request_id: int) -> Path:
        return self.requests_dir / f"{int(request_id)}.json"

    def request(self, request_id: int) -> RequestState | None:
        try:
            return RequestState.from_json(read_json(self._request_path(request_id)))
        except FileNotFoundError:
            return None

    def put(self, record: RequestState) -> None:
        write_json(self._request_path(record.request_id), record.to_json())

    def requests(self, *states: str) -> list[RequestState]:
        """Every stored request (in id order), or those in one of ``states``."""
        records = []
        for path in self.requests_dir.glob("*.json"):
            if path.stem.isdigit():
                record = RequestState.from_json(read_json(path))
                if not states or record.state in states:
                    records.append(record)
        return sorted(records, key=lambda r: r.request_id)

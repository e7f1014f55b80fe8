"""What a provider keeps on disk, so that a restart resumes every pending request.

A provider's state directory holds:

- ``provider.json``: the marketplace address, the provider's account, the chain id, the
  registered model (id, commitment, where its setup files are) and the last block whose
  ``RequestOpened`` events were read;
- ``requests/<id>.json``: one record per request for the provider's model, written when the
  request is seen on-chain (``waiting``), when its input arrives over the channel and matches
  the on-chain commitment (``received``: the input and salt are kept), when it is answered
  (``fulfilled``: label, logits, proof time, gas) or when it can no longer be answered
  (``expired``).

Every write goes through ``atomic_output`` (temp file, then ``os.replace``): a provider killed at
any moment leaves each file either as it was or as it became, never half-written. Requests in
state ``received`` are what a restarted provider proves first.

The setup cache (``cache_dir``) holds compiled artifacts keyed by what they are made from (the
model's hash, the ceremony's participants), written the same way, so a second run reuses them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prover.errors import ZkmarketError
from prover.formats.binfile import atomic_output

WAITING, RECEIVED, FULFILLED, EXPIRED = "waiting", "received", "fulfilled", "expired"
STATES = (WAITING, RECEIVED, FULFILLED, EXPIRED)


class StoreError(ZkmarketError):
    """The provider's state directory is unreadable or belongs to another deployment."""


def default_cache_dir() -> Path:
    """Where compiled circuits, ceremony files and keys are cached: ``$ZKMARKET_CACHE`` or
    ``~/.cache/zkmarket``."""
    return Path(os.environ.get("ZKMARKET_CACHE") or Path.home() / ".cache" / "zkmarket")


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
        raise StoreError(f"{path} is unreadable ({exc}): restore it or start the provider with a fresh "
                         f"--state directory") from exc


@dataclass
class RequestState:
    """A request for the provider's model, as far as the provider got with it."""

    request_id: int
    state: str = WAITING
    input_commitment: int = 0
    deadline: int = 0
    input: list | None = None        # the quantized input (ints), once received
    salt: int | None = None
    label: int | None = None
    logits: list | None = None
    output_commitment: int | None = None
    proof_seconds: float | None = None
    gas_used: int | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        # field elements as hex strings: JSON readers elsewhere lose precision on big ints
        for key in ("input_commitment", "salt", "output_commitment"):
            if data[key] is not None:
                data[key] = hex(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict) -> "RequestState":
        data = dict(data)
        for key in ("input_commitment", "salt", "output_commitment"):
            if isinstance(data.get(key), str):
                data[key] = int(data[key], 16)
        if data.get("state") not in STATES:
            raise StoreError(f"request {data.get('request_id')} has unknown state {data.get('state')!r}")
        return cls(**data)


@dataclass
class ProviderState:
    """The provider's deployment: which chain, marketplace, account and model it serves."""

    chain_id: int
    marketplace: str
    account: str
    model_id: int | None = None
    model_commitment: int | None = None
    setup_dir: str | None = None       # the folder holding the model's spec, r1cs, ptau and zkey
    last_block: int = -1               # RequestOpened events up to this block have been read
    # the batch statements registered with the model: kind -> {"size", "zkey", "verifier"}
    statements: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


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

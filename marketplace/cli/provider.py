"""`zkmarket provider register | serve`: offer a model and answer its requests with proofs.

    zkmarket provider register model.onnx --price WEI --ptau P.ptau --state DIR [--calibration X.npy]
                               [--endpoint http://127.0.0.1:8600] --rpc URL --market ADDRESS
    zkmarket provider serve --state DIR --rpc URL
    zkmarket provider setup model.onnx --ptau P.ptau --out C0.zkey

``register`` compiles and quantizes the model (a bundled example model needs no calibration
data), sets up its key from the prepared powers of tau ``--ptau`` (from a public or multi-party
ceremony: ``zkmarket powersoftau``), deploys the verifier and registers the model with the
endpoint as its metadata URI. ``serve`` listens on that endpoint (the input channel) and
answers requests until interrupted; its state directory lets a restart resume every pending
request.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlparse

from prover.errors import ZkmarketError

DEFAULT_ENDPOINT = "http://127.0.0.1:8600"


def _load_calibration(path):
    if path is None:
        return None
    import numpy as np

    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise ZkmarketError(f"cannot read calibration inputs {path} ({exc}): give a .npy batch of inputs") from exc


def _served_model(onnx, ptau, calibration, cache, zkey=None):
    from marketplace.provider import prepare_model

    return prepare_model(onnx, ptau_path=ptau, zkey_path=zkey, calibration=_load_calibration(calibration),
                         cache_dir=cache)


def run_setup(args: argparse.Namespace) -> int:
    from marketplace.provider import initial_key

    for path in (args.onnx, args.ptau):
        if not Path(path).is_file():
            raise ZkmarketError(f"{path} does not exist")
    initial_key(args.onnx, args.ptau, args.out, calibration=_load_calibration(args.calibration))
    print(f"wrote {args.out} (no contribution yet: anyone can forge proofs with it). Consumers contribute with "
          f"`zkmarket zkey contribute {args.out} NEXT.zkey`; register the last key with --zkey")
    return 0


def run_register(args: argparse.Namespace) -> int:
    from marketplace.cli.deploy import market_args
    from marketplace.provider import Provider
    from marketplace.store import ProviderStore

    if not Path(args.onnx).is_file():
        raise ZkmarketError(f"ONNX model {args.onnx} does not exist; give the path of a .onnx file")
    if args.ptau is not None and not Path(args.ptau).is_file():
        raise ZkmarketError(f"powers of tau {args.ptau} does not exist")
    from prover.onnx.importer import import_model

    import_model(args.onnx)  # a corrupt or unsupported model fails here, before the chain is touched
    market, account = market_args(args)
    served = _served_model(args.onnx, args.ptau, args.calibration, args.cache, args.zkey)
    provider = Provider(market, account, served, ProviderStore(args.state))
    model_id = provider.register(args.price, metadata_uri=args.endpoint)
    provider.state.extra = {"onnx": str(Path(args.onnx).resolve()), "endpoint": args.endpoint,
                            "ptau": args.ptau and str(Path(args.ptau).resolve()),
                            "zkey": args.zkey and str(Path(args.zkey).resolve()),
                            "calibration": args.calibration and str(Path(args.calibration).resolve()),
                            "cache": args.cache and str(Path(args.cache).resolve())}
    provider.store.save(provider.state)
    print(f"model id: {model_id}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from marketplace.cli.deploy import market_args
    from marketplace.provider import Provider
    from marketplace.store import ProviderStore

    store = ProviderStore(args.state)
    state = store.load()
    if state is None or state.model_id is None:
        raise ZkmarketError(f"{args.state} holds no registered model: run `zkmarket provider register` first")
    if args.market is None:
        args.market = state.marketplace
    market, account = market_args(args)
    extra = state.extra
    served = _served_model(extra["onnx"], extra.get("ptau"), extra.get("calibration"), extra.get("cache"),
                           extra.get("zkey"))
    provider = Provider(market, account, served, store, log=lambda message: print(message, flush=True))
    url = urlparse(extra["endpoint"])
    provider.open_channel(url.hostname or "127.0.0.1", url.port or 80)
    print(f"serving model {state.model_id} at {provider.endpoint}", flush=True)
    try:
        provider.serve(args.poll)
    finally:
        provider.close()
    return 0


def register(sub) -> None:
    from marketplace.cli.deploy import market_arguments, verb_group

    verbs = verb_group(sub, "provider", "register a model and serve its predictions with proofs", __doc__)

    p = verbs.add_parser("setup", help="write a model's key before phase 2, for consumers to contribute to")
    p.add_argument("onnx", help="the model (.onnx)")
    p.add_argument("--ptau", required=True, help="prepared powers of tau from a multi-party ceremony")
    p.add_argument("--out", required=True, help="the key to write (.zkey)")
    p.add_argument("--calibration", help="a .npy batch of typical inputs (not needed for the bundled models)")
    p.set_defaults(run=run_setup)

    p = verbs.add_parser("register", help="compile, set up, deploy the verifier and register a model")
    p.add_argument("onnx", help="the model (.onnx)")
    p.add_argument("--price", type=int, required=True, help="wei per prediction")
    p.add_argument("--ptau", help="prepared powers of tau from a multi-party ceremony (zkmarket powersoftau)")
    p.add_argument("--calibration", help="a .npy batch of typical inputs for quantization (not needed for the "
                                         "bundled example models)")
    p.add_argument("--zkey", help="the model's key after the consumers' phase-2 contributions (from `zkmarket "
                                  "provider setup` and `zkmarket zkey contribute`); default: a fresh key")
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"the input channel's URL (default {DEFAULT_ENDPOINT})")
    p.add_argument("--state", default="provider-state", help="the provider's state directory")
    p.add_argument("--cache", default=None, help="cache folder for circuits and keys")
    market_arguments(p, account=1)
    p.set_defaults(run=run_register)

    p = verbs.add_parser("serve", help="answer requests for the registered model until interrupted")
    p.add_argument("--state", default="provider-state", help="the provider's state directory")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls of the chain")
    market_arguments(p, account=1)
    p.set_defaults(run=run_serve)

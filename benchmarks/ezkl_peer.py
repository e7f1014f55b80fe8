"""The EZKL side of ``benchmarks.models``: one EZKL step per process, so that each step's time
and peak memory are its own.

    python -m benchmarks.ezkl_peer STEP WORKDIR

WORKDIR holds ``model.onnx`` and ``input.json`` (EZKL's ``{"input_data": [[...]]}``; the same
sample is the calibration data). Steps, in order:

    settings  gen_settings (hashed parameters, public input and output, batch axis N = 1),
              calibrate_settings for "resources", compile_circuit, and a locally generated SRS
              of the calibrated size (gen_srs: for benchmarks only, its secret is not destroyed)
    witness   gen_witness
    setup     proving and verifying keys
    prove     the proof
    verify    the proof checked; exit status 1 if it does not verify

The SRS is generated, not downloaded: this machine reaches no SRS host, and time and memory
do not depend on whose SRS it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# the example models' ONNX files name their batch axis N
BATCH_AXIS = "N"


def files(workdir: Path) -> dict[str, str]:
    names = {
        "model": "model.onnx",
        "input": "input.json",
        "settings": "settings.json",
        "compiled": "model.compiled",
        "srs": "kzg.srs",
        "witness": "witness.json",
        "vk": "vk.key",
        "pk": "pk.key",
        "proof": "proof.json",
    }
    return {k: str(workdir / v) for k, v in names.items()}


def run_step(step: str, workdir: Path) -> None:
    import ezkl

    f = files(workdir)
    if step == "settings":
        run_args = ezkl.PyRunArgs()
        run_args.input_visibility = "public"
        run_args.output_visibility = "public"
        run_args.param_visibility = "hashed"
        run_args.variables = [(BATCH_AXIS, 1)]
        assert ezkl.gen_settings(f["model"], f["settings"], py_run_args=run_args)
        assert ezkl.calibrate_settings(f["input"], f["model"], f["settings"], "resources")
        assert ezkl.compile_circuit(f["model"], f["compiled"], f["settings"])
        logrows = json.loads(Path(f["settings"]).read_text())["run_args"]["logrows"]
        ezkl.gen_srs(f["srs"], logrows)
    elif step == "witness":
        ezkl.gen_witness(f["input"], f["compiled"], f["witness"])
    elif step == "setup":
        assert ezkl.setup(f["compiled"], f["vk"], f["pk"], f["srs"])
    elif step == "prove":
        assert ezkl.prove(f["witness"], f["compiled"], f["pk"], f["proof"], f["srs"])
    elif step == "verify":
        if not ezkl.verify(f["proof"], f["settings"], f["vk"], f["srs"]):
            sys.exit(1)
    else:
        raise SystemExit(f"unknown step {step!r}")


STEPS = ("settings", "witness", "setup", "prove", "verify")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    run_step(sys.argv[1], Path(sys.argv[2]))

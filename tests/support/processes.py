"""Processes the tests start: the installed `zkmarket` entry point and a `hardhat node`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from marketplace.chain import connect
from marketplace.npm import REPO_ROOT, npm_bin
from prover.errors import ChainError

ZKMARKET = [str(Path(sys.executable).parent / "zkmarket")]  # the installed entry point
HARDHAT_START_TIMEOUT_S = 90


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zkmarket(*args, check=True, timeout=600):
    """Run the installed `zkmarket` in a process of its own; with ``check``, its failure fails the test."""
    result = subprocess.run([*ZKMARKET, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"zkmarket {' '.join(map(str, args))} failed: {result.stderr[-3000:]}")
    return result


@contextmanager
def hardhat_node():
    """A `hardhat node` on 127.0.0.1 at a free port: yields its URL once it answers, and stops
    exactly its process group afterwards."""
    port = free_port()
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    proc = subprocess.Popen(
        [str(npm_bin("hardhat")), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HARDHAT_START_TIMEOUT_S
        while True:
            try:
                connect(url, timeout=2)
                break
            except ChainError:
                if proc.poll() is not None:
                    raise RuntimeError(f"hardhat node exited: {proc.stderr.read().decode()[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"hardhat node did not answer on {url} within {HARDHAT_START_TIMEOUT_S} s"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        # the node runs in its own session: stop exactly the process group we started
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

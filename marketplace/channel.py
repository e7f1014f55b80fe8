"""The input channel: how a consumer's input reaches the provider without touching the chain.

On-chain a request carries only the *input commitment*, a salted Poseidon commitment to the
quantized input (``prover.circuit.statements.input_commitment``); with a fresh 254-bit salt it
reveals nothing about the input. The input itself travels to the provider's HTTP endpoint
(the URL the provider registers as the model's metadata URI), as JSON:

``GET  /model``               the model card: model id and commitment, the input's shape, scale
                              and bit width, the setup files' names and SHA-256 digests
``GET  /setup/<file>``        a setup file (``circuit.r1cs``, ``phase1.ptau``, ``circuit.zkey``),
                              for the consumer's transcript verification
``POST /input``               ``{"request_id", "input": [ints], "salt": "0x.."}``: accepted (202)
                              only if the request is open, for this model, and the commitment of
                              ``(salt, input)`` equals the on-chain one; otherwise refused (409)
                              and never proved, so the consumer's escrow comes back after the
                              deadline
``GET  /result/<request_id>`` the logits of a fulfilled request, which the consumer checks against
                              the on-chain output commitment (before fulfilment: 404)

Threat model (README.md, "The input channel"): the chain and its observers see the commitment
only; the provider sees the input (it has to compute on it); the commitment binds the provider
to exactly that input (the proof is about it), and binds the consumer (a different input is
refused, not proved). The transport is plain HTTP, meant for 127.0.0.1 or a TLS terminator in
front of it: anyone on the path between consumer and provider sees the input. A third party
posting garbage only gets refusals. The logits are not secret from the provider either.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prover.errors import ZkmarketError
from prover.field import FR_MODULUS

# how long the consumer waits for one HTTP answer from the provider
HTTP_TIMEOUT_S = 30
MAX_BODY = 16 << 20


class ChannelError(ZkmarketError):
    """The provider's endpoint cannot be reached or refused the message."""


class Refused(ChannelError):
    """The provider refused the input (HTTP 409): it does not match the on-chain commitment or
    the request is not one it can answer. ``reason`` is the provider's explanation."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"the provider refused the input: {reason}")


# --- message format ----------------------------------------------------------------------------

def input_message(request_id: int, quantized_input, salt: int) -> dict:
    """The JSON body a consumer posts for a request: the quantized input as a flat list of ints
    and the salt as hex."""
    return {"request_id": int(request_id), "input": [int(v) for v in quantized_input],
            "salt": hex(int(salt))}


def parse_input_message(body: dict) -> tuple[int, list[int], int]:
    """``(request_id, input, salt)`` from a posted body; ValueError names what is malformed."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    request_id, values, salt = body.get("request_id"), body.get("input"), body.get("salt")
    if not isinstance(request_id, int) or request_id < 1:
        raise ValueError("request_id must be a positive integer")
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError("input must be a list of integers (the quantized input)")
    if not isinstance(salt, str):
        raise ValueError("salt must be a hex string")
    try:
        salt_value = int(salt, 16)
    except ValueError:
        raise ValueError("salt must be a hex string") from None
    if not 0 <= salt_value < FR_MODULUS:
        raise ValueError("salt must be a field element (below the BN254 scalar field order)")
    return request_id, values, salt_value


# --- provider side -----------------------------------------------------------------------------

class Handlers:
    """What the provider answers; each returns ``(status, JSON-able body)`` or, for a file,
    ``(200, bytes)``."""

    card: Callable[[], tuple[int, object]]
    setup_file: Callable[[str], tuple[int, object]]
    accept_input: Callable[[dict], tuple[int, object]]
    result: Callable[[int], tuple[int, object]]


def _handler_class(handlers: Handlers):
    class ChannelHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # the provider logs what matters itself
            pass

        def _reply(self, status: int, body) -> None:
            if isinstance(body, (bytes, bytearray)):
                data, kind = bytes(body), "application/octet-stream"
            else:
                data, kind = json.dumps(body).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, fn, *args) -> None:
            try:
                status, body = fn(*args)
            except Exception as exc:  # the endpoint must keep serving; the error goes back as text
                status, body = 500, {"error": f"{type(exc).__name__}: {exc}"}
            self._reply(status, body)

        def do_GET(self):
            parts = [p for p in self.path.split("/") if p]
            if parts == ["model"]:
                self._dispatch(handlers.card)
            elif len(parts) == 2 and parts[0] == "setup":
                self._dispatch(handlers.setup_file, parts[1])
            elif len(parts) == 2 and parts[0] == "result" and parts[1].isdigit():
                self._dispatch(handlers.result, int(parts[1]))
            else:
                self._reply(404, {"error": f"no such resource {self.path}"})

        def do_POST(self):
            if self.path.rstrip("/") != "/input":
                self._reply(404, {"error": f"no such resource {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._reply(400, {"error": "the body must be JSON of at most 16 MiB"})
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._reply(400, {"error": "the body is not JSON"})
                return
            self._dispatch(handlers.accept_input, body)

    return ChannelHandler


class ChannelServer:
    """The provider's endpoint, served from a background thread until ``close()``."""

    def __init__(self, handlers: Handlers, host: str = "127.0.0.1", port: int = 0):
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler_class(handlers))
        except OSError as exc:
            raise ChannelError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from exc
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="zkmarket-channel", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- consumer side -----------------------------------------------------------------------------

def _request(url: str, data: bytes | None = None, timeout: float = HTTP_TIMEOUT_S):
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"the provider's endpoint {url} does not answer ({reason}): is `zkmarket "
                           f"provider serve` running there?") from exc


def _json(status: int, raw: bytes, url: str):
    try:
        return json.loads(raw)
    except ValueError:
        raise ChannelError(f"{url} answered {status} with something that is not JSON: is it a zkmarket "
                           f"provider endpoint?") from None


def fetch_card(endpoint: str, timeout: float = HTTP_TIMEOUT_S) -> dict:
    """The provider's model card (see the module docstring)."""
    url = endpoint.rstrip("/") + "/model"
    status, raw, _ = _request(url, timeout=timeout)
    body = _json(status, raw, url)
    if status != 200:
        raise ChannelError(f"{url} answered {status}: {body.get('error', body)}")
    return body


def fetch_setup_file(endpoint: str, name: str, timeout: float = 120) -> bytes:
    url = f"{endpoint.rstrip('/')}/setup/{name}"
    status, raw, kind = _request(url, timeout=timeout)
    if status != 200:
        raise ChannelError(f"{url} answered {status}: the provider does not publish {name}")
    return raw


def send_input(endpoint: str, request_id: int, quantized_input, salt: int,
               timeout: float = HTTP_TIMEOUT_S) -> dict:
    """Post the input of an open request. Raises Refused when the provider refuses it (wrong
    commitment, unknown request) and ChannelError when it cannot be reached."""
    url = endpoint.rstrip("/") + "/input"
    data = json.dumps(input_message(request_id, quantized_input, salt)).encode()
    status, raw, _ = _request(url, data, timeout)
    body = _json(status, raw, url)
    if status in (400, 404, 409):
        raise Refused(body.get("error", str(body)))
    if status != 202:
        raise ChannelError(f"{url} answered {status}: {body.get('error', body)}")
    return body


def fetch_result(endpoint: str, request_id: int, timeout: float = HTTP_TIMEOUT_S) -> dict | None:
    """The logits of a fulfilled request, or None while the provider has none."""
    url = f"{endpoint.rstrip('/')}/result/{int(request_id)}"
    status, raw, _ = _request(url, timeout=timeout)
    if status == 404:
        return None
    body = _json(status, raw, url)
    if status != 200:
        raise ChannelError(f"{url} answered {status}: {body.get('error', body)}")
    return body

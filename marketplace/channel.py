"""The input channel: how a consumer's input reaches the provider without touching the chain.

On-chain a request carries only the *input commitment*, a salted Poseidon commitment to the
quantized input (``prover.circuit.statements.input_commitment``); with a fresh 254-bit salt it
reveals nothing about the input. The input itself travels to the provider's HTTP endpoint
(the URL the provider registers as the model's metadata URI), as JSON:

``GET  /model``               the model card: model id and commitment, the input's shape, scale
                              and bit width, the setup files' names, SHA-256 digests and sizes
``GET  /setup/<file>``        a setup file (``circuit.r1cs``, ``phase1.ptau``, ``circuit.zkey``),
                              streamed from disk, for the consumer's transcript verification
``POST /input``               ``{"request_id", "input": [ints], "salt": "0x.."}``: accepted (202)
                              only if the request is open, for this model, and the commitment of
                              ``(salt, input)`` equals the on-chain one; otherwise refused (409)
                              and never proved, so the consumer's escrow comes back after the
                              deadline
``GET  /result/<request_id>`` the logits of a fulfilled request, only to the request's consumer:
                              the header ``Authorization: EIP191 0x<signature>`` carries the
                              consumer's EIP-191 signature of ``result_request_message`` (it
                              names the request, the marketplace and the chain); no or a bad
                              signature: 401, another account's: 403, not fulfilled yet: 404

The server (``ChannelServer``, aiohttp on an event loop in a background thread) bounds what one
client can hold (``ChannelLimits``): a request's headers must arrive within ``header_timeout``
of the connection (or of the previous answer), its body within ``body_timeout``, and the body
of ``POST /input`` is at most ``max_body`` bytes (the provider fits it to its model's input,
``input_body_limit``); a longer declared body is refused (413) before any byte of it is read.
Past ``max_connections`` open connections a new one gets 503 at once; past ``max_in_flight``
requests waiting for or running in the handler threads, 503 too (``Retry-After: 1``). JSON is
parsed only after ``json_depth`` shows it nests at most ``MAX_JSON_DEPTH`` deep: py_ecc and
py-evm raise the interpreter's recursion limit, so a deeply nested body would overflow the C
stack inside ``json.loads`` and kill the process instead of raising.

The consumer's side (``fetch_card``, ``fetch_setup_file``, ``send_input``, ``fetch_result``)
follows no redirect, caps every answer (the card at ``CARD_MAX_BYTES``, a setup file at the size
the card states for it, any other answer at ``ANSWER_MAX_BYTES``), gives each exchange a total
deadline, parses JSON with the same depth limit, and retries a 503 for a few seconds. Whatever
the endpoint sends, the consumer gets a ``ChannelError`` and nothing is paid by it.

Threat model (README.md, "The input channel"): the chain and its observers see the commitment
only; the provider sees the input (it has to compute on it); the commitment binds the provider
to exactly that input (the proof is about it), and binds the consumer (a different input is
refused, not proved). The transport is plain HTTP, meant for 127.0.0.1 or a TLS terminator in
front of it: anyone on the path between consumer and provider sees the input. A third party
posting garbage only gets refusals. The logits are not secret from the provider either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from prover.errors import ZkmarketError
from prover.field import FR_MODULUS

# how long the consumer waits for one HTTP answer from the provider (a setup file: SETUP_TIMEOUT_S)
HTTP_TIMEOUT_S = 30
SETUP_TIMEOUT_S = 300
# the consumer's caps on what it reads: the card, and any other JSON answer
CARD_MAX_BYTES = 1 << 20
ANSWER_MAX_BYTES = 1 << 20
# the most a card may state for one setup file (LeNet's key is well under it)
SETUP_MAX_BYTES = 4 << 30
# how deep JSON may nest on either side (the card nests a few levels, an input two)
MAX_JSON_DEPTH = 32
# how long the consumer keeps retrying an endpoint that answers 503 (busy)
BUSY_RETRY_S = 20
# the scheme of the Authorization header of GET /result
AUTH_SCHEME = "EIP191"
# files are streamed in pieces of this size
CHUNK = 256 << 10


class ChannelError(ZkmarketError):
    """The provider's endpoint cannot be reached, refused the message, or answered something the
    consumer does not take (too large, too slow, a redirect, JSON nested too deep)."""


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
    return {"request_id": int(request_id), "input": [int(v) for v in quantized_input], "salt": hex(int(salt))}


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


def input_body_limit(n_values: int, bits: int) -> int:
    """The POST /input body limit for an input of ``n_values`` ``bits``-bit values: twice the
    largest valid body (every value at its widest, the largest request id and salt), plus 1 KiB
    for a client's own whitespace and field order."""
    widest = {"request_id": 2**256 - 1, "input": [-(1 << (bits - 1))] * n_values, "salt": hex(FR_MODULUS - 1)}
    return 2 * len(json.dumps(widest)) + 1024


# strings (with their escapes) and the brackets outside them: all that JSON nesting depends on
_NESTING_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``raw`` nests (arrays and objects), counting at most to ``limit + 1``; a linear
    scan that does not recurse. Over the part of ``raw`` a JSON parser reads before it stops,
    this is the depth the parser reaches."""
    depth = deepest = 0
    for token in _NESTING_TOKENS.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_json(raw: bytes, what: str, limit: int = MAX_JSON_DEPTH):
    """``json.loads(raw)`` once ``json_depth`` shows it nests at most ``limit`` deep; ValueError
    (naming ``what``) for JSON nested deeper or no JSON at all."""
    if json_depth(raw, limit) > limit:
        raise ValueError(f"{what} nests deeper than {limit} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None


# --- who may read a result ---------------------------------------------------------------------


def result_request_message(marketplace: str, chain_id: int, request_id: int) -> str:
    """The text a consumer signs (EIP-191 personal message) to read the result of
    ``request_id``: it names the marketplace contract and the chain, so a signature is good for
    this one request only."""
    return (
        f"zkml-market: send me the result of request {int(request_id)} on marketplace "
        f"{marketplace.lower()} on chain {int(chain_id)}"
    )


def sign_result_request(w3, account: str, marketplace: str, request_id: int) -> str:
    """``account``'s signature of ``result_request_message``, made by the node that holds its
    key (``eth_sign``: hardhat's unlocked accounts; the in-process chain's accounts, see
    ``marketplace.chain``). Raises ChannelError when the node cannot sign for it."""
    message = result_request_message(marketplace, int(w3.eth.chain_id), request_id)
    try:
        signature = w3.eth.sign(account, text=message)
    except Exception as exc:  # each node refuses in its own words
        raise ChannelError(
            f"the node cannot sign for {account} ({exc}): the consumer's account must be one the "
            f"node holds the key of, to prove to the provider that the result is its own"
        ) from exc
    return "0x" + bytes(signature).hex()


def result_signer(marketplace: str, chain_id: int, request_id: int, signature: str) -> str:
    """The account whose key made ``signature`` (hex) over ``result_request_message``, as a
    checksum address; ValueError when it is not a signature at all."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise ValueError("the signature is not hex") from None
    if len(raw) != 65:
        raise ValueError(f"a signature is 65 bytes (r, s, v), this one is {len(raw)}")
    message = encode_defunct(text=result_request_message(marketplace, chain_id, request_id))
    try:
        return Account.recover_message(message, signature=raw)
    except Exception as exc:  # eth-keys raises BadSignature / ValidationError for points off the curve
        raise ValueError(f"the signature does not recover to any account ({type(exc).__name__})") from None


# --- provider side -----------------------------------------------------------------------------


class Handlers:
    """What the provider answers; each returns ``(status, JSON-able body)``; ``setup_file`` may
    return ``(200, Path)`` (streamed from disk) or ``(200, bytes)``. ``result`` gets the request
    id and the signature of the Authorization header (None when there is none)."""

    card: Callable[[], tuple[int, object]]
    setup_file: Callable[[str], tuple[int, object]]
    accept_input: Callable[[dict], tuple[int, object]]
    result: Callable[[int, str | None], tuple[int, object]]


@dataclass(frozen=True)
class ChannelLimits:
    """What one client may hold of the provider's endpoint (see the module docstring)."""

    max_body: int = 64 << 10  # bytes of a POST /input body (the provider fits it to its input)
    header_timeout: float = 5.0  # seconds from connecting (or the last answer) to a request's full headers
    body_timeout: float = 5.0  # seconds from the headers to the whole body
    send_timeout: float = 300.0  # seconds a client may take to read one answer (a setup file)
    max_connections: int = 256  # open connections; past it a new one gets 503 at once
    max_in_flight: int = 16  # requests waiting for or in the handler threads; past it 503
    workers: int = 4  # handler threads (they share the provider's chain lock)
    max_header_bytes: int = 8190  # one request line or header field


def _busy_answer() -> bytes:
    body = json.dumps({"error": "the provider is busy: try again in a second"}).encode()
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class _Busy(asyncio.Protocol):
    """A connection past ``max_connections``: answered 503 without reading it, closed within a
    second (after the answer, so the client reads it rather than a reset)."""

    def connection_made(self, transport):
        self.transport = transport
        transport.write(_busy_answer())
        if transport.can_write_eof():
            transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(1.0, transport.close)

    def data_received(self, data):
        pass

    def eof_received(self):
        self.transport.close()

    def connection_lost(self, exc):
        self.timer.cancel()


class ChannelServer:
    """The provider's endpoint (aiohttp), served from a background thread until ``close()``.
    ``stats`` counts the refusals (busy connections and requests, bodies too large, too slow,
    not JSON or nested too deep) for the operator and the load test."""

    def __init__(self, handlers: Handlers, host: str = "127.0.0.1", port: int = 0, limits: ChannelLimits | None = None):
        self.handlers = handlers
        self.limits = limits or ChannelLimits()
        self.stats: Counter = Counter()
        self._in_flight = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(self.limits.workers, thread_name_prefix="zkmarket-channel")
        self._loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()
        self.thread = threading.Thread(
            target=self._run, args=(host, port, started), name="zkmarket-channel", daemon=True
        )
        self.thread.start()
        try:
            self.host, self.port = started.result()
        except OSError as exc:
            self.thread.join()
            self._pool.shutdown(wait=False)
            raise ChannelError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from exc

    def _run(self, host: str, port: int, started: concurrent.futures.Future) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen(host, port))
        except OSError as exc:
            started.set_exception(exc)
            self._loop.close()
            return
        started.set_result(self._tcp.sockets[0].getsockname()[:2])
        self._loop.run_forever()
        self._loop.close()

    async def _listen(self, host: str, port: int) -> None:
        limits = self.limits
        # aiohttp's keep-alive timer also runs from the moment a connection opens and closes it
        # while no complete request has arrived: that is the header timeout. No lingering: a
        # body left unread (refused) closes the connection instead of being read on.
        self._server = web.Server(
            self._handle,
            handler_cancellation=True,
            keepalive_timeout=limits.header_timeout,
            lingering_time=0,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            access_log=None,
        )
        self._tcp = await self._loop.create_server(self._protocol, host, port)

    def _protocol(self):
        if len(self._server.connections) >= self.limits.max_connections:
            self.stats["busy_connections"] += 1
            return _Busy()
        return self._server()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def stop():
            self._tcp.close()
            await self._server.shutdown(1.0)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self.thread.join(timeout=10)
            self._pool.shutdown(wait=False, cancel_futures=True)

    # one request

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "POST" and parts == ["input"]:
            body = await self._read_body(request)
            if isinstance(body, web.StreamResponse):
                return body
            try:
                message = parse_json(body, "the body", MAX_JSON_DEPTH)
            except ValueError as exc:
                self.stats["bad_json"] += 1
                return await self._send(request, 400, {"error": str(exc)})
            return await self._send(request, *await self._call(self.handlers.accept_input, message))
        if request.method in ("GET", "HEAD"):
            if parts == ["model"]:
                return await self._send(request, *await self._call(self.handlers.card))
            if len(parts) == 2 and parts[0] == "setup":
                return await self._send(request, *await self._call(self.handlers.setup_file, parts[1]))
            if len(parts) == 2 and parts[0] == "result" and parts[1].isdigit() and len(parts[1]) <= 78:
                scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
                signature = credentials.strip() if scheme == AUTH_SCHEME and credentials.strip() else None
                return await self._send(request, *await self._call(self.handlers.result, int(parts[1]), signature))
        return await self._send(request, 404, {"error": f"no such resource {request.method} {request.path}"})

    async def _read_body(self, request: web.BaseRequest) -> bytes | web.StreamResponse:
        """The whole body, or the refusal to send: 413 past ``max_body`` (a declared length is
        refused before reading), 408 when it does not arrive within ``body_timeout``."""
        limit = self.limits.max_body
        if request.content_length is not None and request.content_length > limit:
            self.stats["too_large"] += 1
            return await self._send(
                request, 413, {"error": f"the body may be at most {limit} bytes for this model's input"}, close=True
            )
        body = bytearray()
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                while chunk := await request.content.read(limit + 1 - len(body)):
                    body += chunk
                    if len(body) > limit:
                        self.stats["too_large"] += 1
                        return await self._send(
                            request,
                            413,
                            {"error": f"the body may be at most {limit} bytes for this model's input"},
                            close=True,
                        )
        except TimeoutError:
            self.stats["slow_body"] += 1
            return await self._send(
                request, 408, {"error": f"the body did not arrive within {self.limits.body_timeout:g} s"}, close=True
            )
        except aiohttp.web.HTTPException as exc:  # a malformed chunked body
            return await self._send(request, 400, {"error": f"the body is malformed ({exc.reason})"}, close=True)
        if not body:
            return await self._send(request, 400, {"error": "the body must be JSON (the input message)"})
        return bytes(body)

    async def _call(self, fn, *args) -> tuple[int, object]:
        """``fn(*args)`` in a handler thread; (503, ...) at once when ``max_in_flight`` calls
        already wait for one or run. A call counts until its thread is done with it."""
        if self._in_flight >= self.limits.max_in_flight:
            self.stats["busy_requests"] += 1
            return 503, {"error": "the provider is busy: try again in a second"}
        self._in_flight += 1
        future = self._pool.submit(self._guarded, fn, *args)
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _future) -> None:
        """(In the handler thread.) One call fewer in flight, counted on the event loop."""
        try:
            self._loop.call_soon_threadsafe(self._leave)
        except RuntimeError:  # the loop closed while the call ran: nothing is counted any more
            pass

    def _leave(self) -> None:
        self._in_flight -= 1

    @staticmethod
    def _guarded(fn, *args) -> tuple[int, object]:
        try:
            return fn(*args)
        except Exception as exc:  # the endpoint must keep serving; the error goes back as text
            return 500, {"error": f"{type(exc).__name__}: {exc}"}

    async def _send(self, request: web.BaseRequest, status: int, body, close: bool = False) -> web.StreamResponse:
        """Write the answer (JSON, bytes, or a file streamed in ``CHUNK`` pieces) within
        ``send_timeout``; a client too slow to take it is disconnected."""
        headers = {"Retry-After": "1"} if status == 503 else {}
        response = web.StreamResponse(status=status, headers=headers)
        if isinstance(body, Path):
            response.content_type = "application/octet-stream"
            response.content_length = body.stat().st_size
        else:
            data = bytes(body) if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            response.content_type = (
                "application/octet-stream" if isinstance(body, (bytes, bytearray)) else "application/json"
            )
            response.content_length = len(data)
        if close:
            response.force_close()
        try:
            async with asyncio.timeout(self.limits.send_timeout):
                await response.prepare(request)
                if request.method != "HEAD":
                    if isinstance(body, Path):
                        with open(body, "rb") as fh:
                            while chunk := fh.read(CHUNK):
                                await response.write(chunk)
                    else:
                        await response.write(data)
                await response.write_eof()
        except TimeoutError:
            self.stats["slow_reader"] += 1
            if request.transport is not None:
                request.transport.close()
        return response


# --- consumer side -----------------------------------------------------------------------------


async def _exchange(url: str, data: bytes | None, headers: dict, max_bytes: int, timeout: float):
    """One HTTP exchange: ``(status, body, headers)``; the body read up to ``max_bytes``."""
    headers = {"Accept-Encoding": "identity", **headers}
    if data is not None:
        headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), auto_decompress=False, max_line_size=8190, max_field_size=8190
    ) as session:
        async with session.request(
            "POST" if data is not None else "GET", url, data=data, headers=headers, allow_redirects=False
        ) as response:
            if 300 <= response.status < 400:
                raise ChannelError(
                    f"{url} redirects (HTTP {response.status}) to "
                    f"{response.headers.get('Location', 'elsewhere')!r}: the consumer follows no "
                    f"redirect; give the provider's own endpoint"
                )
            if response.headers.get("Content-Encoding", "identity") != "identity":
                raise ChannelError(
                    f"{url} answered with a {response.headers['Content-Encoding']} encoding; "
                    f"a zkmarket endpoint sends plain bodies"
                )
            if response.content_length is not None and response.content_length > max_bytes:
                raise ChannelError(
                    f"{url} announces {response.content_length} bytes, more than the "
                    f"{max_bytes} the consumer takes for it"
                )
            body = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise ChannelError(f"{url} sends more than the {max_bytes} bytes the consumer takes for it")
            return response.status, bytes(body), response.headers


def _request(
    url: str,
    data: bytes | None = None,
    *,
    headers: dict | None = None,
    max_bytes: int = ANSWER_MAX_BYTES,
    timeout: float = HTTP_TIMEOUT_S,
    busy_retry: float = BUSY_RETRY_S,
):
    """``(status, body, headers)`` of one exchange with the provider's endpoint (see the module
    docstring), retrying a busy (503) or reset endpoint for ``busy_retry`` seconds. Raises
    ChannelError when it cannot be reached or answers out of bounds."""
    give_up, pause = time.monotonic() + busy_retry, 0.2
    while True:
        try:
            status, body, answer_headers = asyncio.run(_exchange(url, data, headers or {}, max_bytes, timeout))
        except ChannelError:
            raise
        except TimeoutError:
            raise ChannelError(f"the provider's endpoint {url} did not answer within {timeout:g} s") from None
        except (aiohttp.ServerDisconnectedError, ConnectionResetError) as exc:
            if time.monotonic() + pause > give_up:
                raise ChannelError(f"the provider's endpoint {url} keeps closing the connection ({exc})") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise ChannelError(
                f"the provider's endpoint {url} does not answer ({exc}): is `zkmarket provider serve` running there?"
            ) from exc
        else:
            if status != 503 or time.monotonic() + pause > give_up:
                return status, body, answer_headers
        time.sleep(pause)
        pause = min(2 * pause, 2.0)


def _json(status: int, raw: bytes, url: str):
    try:
        return parse_json(raw, f"the answer of {url}")
    except ValueError as exc:
        raise ChannelError(
            f"{url} answered {status} with something the consumer does not take ({exc}): is it a "
            f"zkmarket provider endpoint?"
        ) from None


def _error(body) -> str:
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


def _json_object(status: int, raw: bytes, url: str, what: str) -> dict:
    """The JSON object of a 200 answer (``what`` it should be); ChannelError for any other."""
    body = _json(status, raw, url)
    if status != 200:
        raise ChannelError(f"{url} answered {status}: {_error(body)}")
    if not isinstance(body, dict):
        raise ChannelError(f"{url} answered {what} that is not a JSON object")
    return body


def fetch_card(endpoint: str, timeout: float = HTTP_TIMEOUT_S) -> dict:
    """The provider's model card (see the module docstring), at most ``CARD_MAX_BYTES``."""
    url = endpoint.rstrip("/") + "/model"
    status, raw, _ = _request(url, max_bytes=CARD_MAX_BYTES, timeout=timeout)
    return _json_object(status, raw, url, "a model card")


def setup_file_size(card: dict, name: str) -> int | None:
    """The size in bytes the card states for the setup file ``name`` (``card["sizes"]``), or
    None when it states none (``fetch_setup_file`` then refuses to download it)."""
    sizes = card.get("sizes")
    return sizes.get(name) if isinstance(sizes, dict) else None


def fetch_setup_file(endpoint: str, name: str, max_bytes: int | None = None, timeout: float = SETUP_TIMEOUT_S) -> bytes:
    """A setup file of exactly ``max_bytes`` bytes, the size the model card states for it
    (``setup_file_size``); ChannelError when no size is stated (None) or it is over
    ``SETUP_MAX_BYTES``, for a file of any other length, a refusal, or an answer slower than
    ``timeout``."""
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0:
        raise ChannelError(
            f"the model card states no size for {name}: the consumer downloads no file of "
            f"unknown size (is the provider's zkmarket older than the sizes field?)"
        )
    if max_bytes > SETUP_MAX_BYTES:
        raise ChannelError(
            f"the model card states {max_bytes} bytes for {name}, more than the "
            f"{SETUP_MAX_BYTES} the consumer downloads of a setup file"
        )
    url = f"{endpoint.rstrip('/')}/setup/{name}"
    status, raw, _ = _request(url, max_bytes=max_bytes, timeout=timeout)
    if status != 200:
        raise ChannelError(f"{url} answered {status}: the provider does not publish {name}")
    if len(raw) != max_bytes:
        raise ChannelError(f"{url} sent {len(raw)} bytes, the model card states {max_bytes}")
    return raw


def send_input(endpoint: str, request_id: int, quantized_input, salt: int, timeout: float = HTTP_TIMEOUT_S) -> dict:
    """Post the input of an open request. Raises Refused when the provider refuses it (wrong
    commitment, unknown request) and ChannelError when it cannot be reached."""
    url = endpoint.rstrip("/") + "/input"
    data = json.dumps(input_message(request_id, quantized_input, salt)).encode()
    status, raw, _ = _request(url, data, timeout=timeout)
    body = _json(status, raw, url)
    if status in (400, 404, 409, 413):
        raise Refused(_error(body))
    if status != 202:
        raise ChannelError(f"{url} answered {status}: {_error(body)}")
    return body


def fetch_result(endpoint: str, request_id: int, signature: str, timeout: float = HTTP_TIMEOUT_S) -> dict | None:
    """The logits of a fulfilled request, or None while the provider has none. ``signature``
    is the consumer's (``sign_result_request``); ChannelError when the provider does not take it."""
    url = f"{endpoint.rstrip('/')}/result/{int(request_id)}"
    status, raw, _ = _request(url, headers={"Authorization": f"{AUTH_SCHEME} {signature}"}, timeout=timeout)
    if status == 404:
        return None
    return _json_object(status, raw, url, "a result")

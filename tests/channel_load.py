"""Hostile clients for the channel's load test (tests/test_channel.py, marked slow), run as their
own process so that their CPU and memory are not the provider's:

    python tests/channel_load.py HOST PORT CLIENTS MAX_BODY SECONDS STOP_FILE

``CLIENTS`` concurrent clients, a quarter of each kind, each reconnecting 0.5 s after its last
attempt ended, until ``STOP_FILE`` exists or ``SECONDS`` have passed (the load stops by itself):

- ``slow_headers``: a request line and one header, then one byte a second, never the blank line;
- ``half_body``: full headers announcing a body just under ``MAX_BODY``, 20 bytes of it, then
  nothing;
- ``oversized``: headers announcing 100 MB, then 64 KiB a second of it;
- ``nested``: the ~117 KiB body of nested ``[`` that crashed the old channel.

Prints a JSON object counting ``kind:outcome`` (an HTTP status the server answered, ``closed``
without an answer, ``reset``) when it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter

KINDS = ("slow_headers", "half_body", "oversized", "nested")


async def outcome(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, drip: bytes | None) -> str:
    """What the server does next: the status code of its answer, or ``closed``; ``drip`` is sent
    every second until then."""
    while True:
        try:
            data = await asyncio.wait_for(reader.read(65536), 1.0)
        except TimeoutError:
            if drip is not None:
                writer.write(drip)
                await writer.drain()
            continue
        if not data:
            return "closed"
        return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "garbage"


async def attack(kind: str, reader, writer, max_body: int) -> str:
    if kind == "slow_headers":
        writer.write(b"POST /input HTTP/1.1\r\nHost: provider\r\n")
        return await outcome(reader, writer, b"X")
    if kind == "half_body":
        writer.write(
            b"POST /input HTTP/1.1\r\nHost: provider\r\nContent-Type: application/json\r\n"
            b'Content-Length: %d\r\n\r\n{"request_id": 1, "input"' % (max_body - 100)
        )
        return await outcome(reader, writer, None)
    if kind == "oversized":
        writer.write(b"POST /input HTTP/1.1\r\nHost: provider\r\nContent-Length: 100000000\r\n\r\n" + b"1" * 65536)
        return await outcome(reader, writer, b"1" * 65536)
    body = b"[" * 120000
    writer.write(b"POST /input HTTP/1.1\r\nHost: provider\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return await outcome(reader, writer, None)


async def client(i: int, host: str, port: int, max_body: int, stop_at: float, stop_file: str, counts: Counter):
    kind = KINDS[i % len(KINDS)]
    while time.monotonic() < stop_at and not os.path.exists(stop_file):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, TimeoutError):
            counts[f"{kind}:connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        try:
            result = await asyncio.wait_for(attack(kind, reader, writer, max_body), 60)
        except TimeoutError:
            result = "held_60s"
        except (ConnectionError, OSError):
            result = "reset"
        finally:
            writer.close()
        counts[f"{kind}:{result}"] += 1
        await asyncio.sleep(0.5)


async def main(host: str, port: int, clients: int, max_body: int, seconds: float, stop_file: str) -> Counter:
    counts: Counter = Counter()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(client(i, host, port, max_body, stop_at, stop_file, counts) for i in range(clients)))
    return counts


if __name__ == "__main__":
    host, port, clients, max_body, seconds, stop_file = sys.argv[1:7]
    counts = asyncio.run(main(host, int(port), int(clients), int(max_body), float(seconds), stop_file))
    print(json.dumps(dict(sorted(counts.items()))))

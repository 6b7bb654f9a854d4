"""An SNTP responder with a chosen clock offset on many loopback ports: a fleet of NTP
servers for the probe benchmark, in one process.

It is not a time server. It answers each valid client request (mode 3, 48 bytes or
more) as a stratum 2 server whose clock is this machine's plus ``offset_s``: origin =
the request's transmit timestamp, receive and transmit = its clock (RFC 5905 §8). One
socket per port, all in one asyncio loop; the ports are chosen by the kernel and
written on stdout as one JSON list, then it serves until killed::

    PYTHONPATH=tests python -m synth.ntp --count 10000 --offset -18000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from typing import Any

from skewsleuth.probe.ntp import MODE_CLIENT, MODE_SERVER, PACKET_LEN, Packet, to_ntp
from skewsleuth.probe.base import now

REFID = bytes([127, 0, 0, 1])


class Responder(asyncio.DatagramProtocol):
    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        received = to_ntp(now() + self.offset_s)
        if len(data) < PACKET_LEN or data[0] & 7 != MODE_CLIENT:
            return
        origin = int.from_bytes(data[40:48], "big")
        reply = Packet(version=4, mode=MODE_SERVER, stratum=2, poll=6, precision=-20, root_delay=0x20,
                       root_dispersion=0x40, refid=REFID, reference=received, origin=origin, receive=received,
                       transmit=to_ntp(now() + self.offset_s))
        assert self.transport is not None
        self.transport.sendto(reply.encode(), addr)


async def serve(count: int, offset_s: float, host: str = "127.0.0.1") -> list[int]:
    """Open ``count`` responders on kernel-chosen ports of ``host``; their ports."""
    loop = asyncio.get_running_loop()
    ports = []
    for _ in range(count):
        transport, _ = await loop.create_datagram_endpoint(lambda: Responder(offset_s), local_addr=(host, 0))
        ports.append(transport.get_extra_info("sockname")[1])
    return ports


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m synth.ntp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1, help="how many servers (ports)")
    ap.add_argument("--offset", type=float, default=0.0, help="their clock offset, seconds (logged - true)")
    args = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.count + 64:      # one descriptor per port
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.count + 64), hard))

    async def run() -> None:
        print(json.dumps(await serve(args.count, args.offset)), flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())

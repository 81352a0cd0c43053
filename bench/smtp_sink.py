"""An SMTP sink for the benchmarks: accepts everything, counts messages per recipient.

    python bench/smtp_sink.py --port-file P --counts-file C [--delay 0.005]

Writes its port to P once listening; on SIGTERM writes {recipient: messages} to C as JSON
and exits. `--delay` holds each message's reply, like a slower real relay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Handler:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.counts: Counter[str] = Counter()

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            self.counts[address.lower()] += 1
        return "250 OK"


def _write(path: str, content: str) -> None:
    Path(path).write_text(content)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    handler = Handler(args.delay)

    def protocol() -> Any:
        return SMTP(handler, hostname="sink", loop=loop, data_size_limit=None)

    server = await loop.create_server(protocol, "127.0.0.1", 0)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    _write(args.port_file, str(server.sockets[0].getsockname()[1]))
    await stop.wait()
    server.close()
    _write(args.counts_file, json.dumps(handler.counts))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--counts-file", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()

"""`python -m playground`: the local Discord (API, gateway, web page) on its own, until Ctrl-C.

It prints the page's address and the environment that points a bot at it; `mjbot serve` starts
the same server by itself when it has no DISCORD_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from playground.host import DEFAULT_HOST, DEFAULT_PORT, start_playground

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        return asyncio.run(_run(args))
    except OSError as error:  # the port is taken, the folder is not writable…
        print(f"error: {error}", file=sys.stderr)
        return 1


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0–65535 (0: any free port), not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    data = Path(os.environ.get("MJ_DATA_DIR", "data")) / "playground"
    parser = argparse.ArgumentParser(
        prog="python -m playground",
        description="A local Discord (REST, gateway, files) with a web page to use it, for "
        "trying mjbot without a Discord account. Its world persists in --data.",
    )
    parser.add_argument(
        "--data", type=Path, default=data, help=f"where the world is kept (default: {data})"
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("MJ_PLAYGROUND_HOST", DEFAULT_HOST),
        help=f"address to listen on ($MJ_PLAYGROUND_HOST, default {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=os.environ.get("MJ_PLAYGROUND_PORT", str(DEFAULT_PORT)),
        help=f"port ($MJ_PLAYGROUND_PORT, default {DEFAULT_PORT}; 0: any free port)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        help="also write the bot's settings (DISCORD_TOKEN=…) to this file, .env style",
    )
    return parser


async def _run(args: argparse.Namespace) -> int:
    playground = await start_playground(args.data, args.host, args.port)
    env = "\n".join(f"{key}={value}" for key, value in playground.bot_env().items())
    if args.env_file is not None:
        args.env_file.write_text(env + "\n", encoding="utf-8")
    print(f"Open {playground.url} to use the playground.", flush=True)
    print(f"A bot connects to it with these settings:\n{env}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await playground.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``litettsd``: start the daemon in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from . import __version__, logs
from .config import LOG_LEVELS, ConfigError, Settings, load_settings

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litettsd",
        description="Local neural text-to-speech daemon: warm voices served over a Unix socket.",
    )
    parser.add_argument("--version", action="version", version=f"litettsd {__version__}")
    parser.add_argument("--socket", metavar="PATH", help="Unix socket to listen on (overrides [server] socket)")
    parser.add_argument(
        "--config", metavar="FILE", action="append", type=Path, default=[], help="extra TOML file; repeatable, later wins"
    )
    parser.add_argument("--voice", metavar="ID", help="default voice (overrides [synthesis] default_voice)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (overrides [log] level)")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.socket:
        overrides.setdefault("server", {})["socket"] = args.socket
    if args.voice:
        overrides.setdefault("synthesis", {})["default_voice"] = args.voice
    if args.log_level:
        overrides.setdefault("log", {})["level"] = args.log_level
    return overrides


async def _serve(settings: Settings) -> None:
    from .server import Daemon

    await Daemon(settings).serve()


def main(argv: list[str] | None = None) -> int:
    """Parse flags, load settings, run the daemon until SIGTERM; exit codes: 0 ok, 1 start-up failed, 2 bad config."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, _overrides(args))
    except ConfigError as exc:
        print(f"litettsd: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log.level)

    from .errors import StartupError

    try:
        asyncio.run(_serve(settings))
    except StartupError as exc:
        logging.getLogger("litettsd").error("%s", exc)
        return 1
    except ConfigError as exc:  # files read at start-up besides the settings (lexicons)
        logging.getLogger("litettsd").error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``litettsd``: start the daemon in the foreground, or ``litettsd check-config`` to validate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from . import __version__, logs
from .config import LOG_LEVELS, ConfigError, ConfigInputs, Flag, LoadedConfig, load_settings

CHECK_CONFIG = "check-config"


def _parser() -> argparse.ArgumentParser:
    # check-config is an optional positional rather than a subparser: it takes the same
    # options as the daemon (they are layers too), before or after it, and a subparser would
    # drop a --config given before the subcommand.
    parser = argparse.ArgumentParser(
        prog="litettsd",
        description="Local neural text-to-speech daemon: warm voices served over a Unix socket.",
        epilog="Configuration layers and every key: docs/configuration.md.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=[CHECK_CONFIG],
        help="validate every configuration layer and print the merged result, each key with its source, "
        "instead of starting the daemon (exit 0 valid, 2 invalid)",
    )
    parser.add_argument("--version", action="version", version=f"litettsd {__version__}")
    parser.add_argument("--socket", metavar="PATH", help="Unix socket to listen on (overrides [server] socket)")
    parser.add_argument(
        "--config", metavar="FILE", action="append", type=Path, default=[], help="extra TOML file; repeatable, later wins"
    )
    parser.add_argument("--voice", metavar="ID", help="default voice (overrides [synthesis] default_voice)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity (overrides [log] level)")
    return parser


def _flags(args: argparse.Namespace) -> list[Flag]:
    given = [
        Flag("--socket", "server.socket", args.socket),
        Flag("--voice", "synthesis.default_voice", args.voice),
        Flag("--log-level", "log.level", args.log_level),
    ]
    return [flag for flag in given if flag.value is not None]


async def _serve(loaded: LoadedConfig) -> None:
    from .server import Daemon

    await Daemon(loaded).serve()


def main(argv: list[str] | None = None) -> int:
    """Parse flags, load settings, run the daemon until SIGTERM; exit codes: 0 ok, 1 start-up failed, 2 bad config."""
    args = _parser().parse_args(argv)
    try:
        loaded = load_settings(ConfigInputs.capture(args.config, _flags(args)))
    except ConfigError as exc:
        print(f"litettsd: {exc}", file=sys.stderr)
        return 2
    if args.command == CHECK_CONFIG:
        sys.stdout.write(loaded.render())
        return 0
    logs.setup(loaded.settings.log.level)

    from .errors import StartupError

    try:
        asyncio.run(_serve(loaded))
    except StartupError as exc:
        logging.getLogger("litettsd").error("%s", exc)
        return 1
    except ConfigError as exc:  # files read at start-up besides the settings (lexicons)
        logging.getLogger("litettsd").error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

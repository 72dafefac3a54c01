"""``litettsd``: start the daemon in the foreground, or ``litettsd check-config`` to validate."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__, logs
from .config import LOG_LEVELS, ConfigError, ConfigInputs, Flag, LoadedConfig, load_settings
from .cpu import CpuPlan, apply_affinity, main_cpu_plan, plan_cpus, plan_summary
from .g2p import espeak
from .launch import import_asyncio_without_tls
from .prefetch import Prefetch, start_up_key
from .sdnotify import ListenSocket, listen_fds

CHECK_CONFIG = "check-config"
CPU_PLAN = "cpu-plan"
INSTALL_UNITS = "install-units"


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal's width. Left to find it, argparse imports
    ``shutil``, and with it ``bz2`` and ``lzma`` (~3 ms), on every start of the daemon, which
    prints no help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """The width ``shutil.get_terminal_size`` would give: ``COLUMNS``, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):  # not a terminal, closed, or no file at all
            columns = 0
    return columns if columns > 0 else 80


def _parser() -> argparse.ArgumentParser:
    # check-config is an optional positional rather than a subparser: it takes the same
    # options as the daemon (they are layers too), before or after it, and a subparser would
    # drop a --config given before the subcommand.
    parser = argparse.ArgumentParser(
        prog="litettsd",
        description="Local neural text-to-speech daemon: warm voices served over a Unix socket.",
        epilog="Configuration layers and every key: docs/configuration.md.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=[CHECK_CONFIG, CPU_PLAN, INSTALL_UNITS],
        help=f"{CHECK_CONFIG}: validate every configuration layer and print the merged result, each key with "
        f"its source (exit 0 valid, 2 invalid); {CPU_PLAN}: print the CPU pinning and thread plan; "
        f"{INSTALL_UNITS}: write the systemd units (see `litettsd {INSTALL_UNITS} --help`). "
        "Without a command, run the daemon.",
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


async def _serve(loaded: LoadedConfig, plan: CpuPlan, activated: list[ListenSocket], ahead: Prefetch | None) -> None:
    from .server import Daemon

    await Daemon(loaded, plan, activated, ahead=ahead).serve()


def settle_native_libraries() -> None:
    """Set, unless the environment already does, how the native libraries the daemon is about
    to load behave; they read it when they load."""
    # onnxruntime 1.32 records telemetry under ~/.cache and can upload it; a local speech
    # daemon has no business doing either (the systemd units set this too).
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    # numpy's OpenBLAS starts a thread per further CPU as numpy loads, each spinning ~100 ms
    # for work that never comes (the daemon's numpy work is element-wise; inference runs in
    # onnxruntime's own pool): a third busy thread on two cores during start-up. With one
    # thread it starts none, and exec to READY took 0.97x as long (11 alternating starts).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    """Parse flags, load settings, run the daemon until SIGTERM; exit codes: 0 ok, 1 start-up failed, 2 bad config."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [INSTALL_UNITS]:  # its own options; it needs no configuration
        from .units import main_install_units

        return main_install_units(argv[1:])
    args = _parser().parse_args(argv)
    try:
        loaded = load_settings(ConfigInputs.capture(args.config, _flags(args)))
    except ConfigError as exc:
        print(f"litettsd: {exc}", file=sys.stderr)
        return 2
    if args.command == CHECK_CONFIG:
        sys.stdout.write(loaded.render())
        from .preflight import startup_problems

        problems = startup_problems(loaded)
        for problem in problems:
            print(f"litettsd: {problem}", file=sys.stderr)
        return 2 if problems else 0
    cpu_settings = loaded.settings.cpu
    if args.command == CPU_PLAN:
        return main_cpu_plan(cpu_settings.affinity, cpu_settings.threads_setting())
    logs.setup(loaded.settings.log.level)
    settle_native_libraries()

    from .errors import StartupError

    try:
        activated = listen_fds()
    except ValueError as exc:  # malformed socket activation variables
        logging.getLogger("litettsd").error("%s", exc)
        return 1
    try:
        # Plan and pin before any model loads, so onnxruntime's thread pools start on the
        # chosen CPUs; planned once, because pinning narrows what a second plan would see.
        plan = plan_cpus(cpu_settings.affinity, cpu_settings.threads_setting())
        apply_affinity(plan)
        logging.getLogger("litettsd").info("%s", plan_summary(plan))
        # espeak-ng's child process loads beside the daemon's imports and models (see g2p).
        espeak().start()
        # The start-up voices' sessions open on a thread while numpy, the event loop, the
        # server and the plugins are imported (see prefetch): so they are imported only after this.
        settings = loaded.settings
        ahead = Prefetch.start(settings.cache.path(), start_up_key(settings, plan.threads))
        try:
            asyncio = import_asyncio_without_tls()
            asyncio.run(_serve(loaded, plan, activated, ahead))
        finally:
            if ahead is not None:
                ahead.close(wait=True)
    except StartupError as exc:
        logging.getLogger("litettsd").error("%s", exc)
        return 1
    except ConfigError as exc:  # files read at start-up besides the settings (lexicons)
        logging.getLogger("litettsd").error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``litetts speechd-install``: put ``sd_litetts`` and ``litetts.conf`` where speech-dispatcher looks.

speech-dispatcher 0.11 finds module programs in its system folder (Debian:
``/usr/lib/speech-dispatcher-modules``, from ``dpkg -L speech-dispatcher``) and in the
per-user ``$XDG_DATA_HOME/../libexec/speech-dispatcher-modules`` (normally
``~/.local/libexec/speech-dispatcher-modules``); it loads every module found there when
``speechd.conf`` has no ``AddModule`` line, passing ``<config folder>/modules/<name>.conf``.
The module program is linked, not copied, so it keeps running the installed package.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .speechd_config import DEFAULT_CONFIG_TEXT

PROGRAM = "sd_litetts"
ADD_MODULE = 'AddModule "litetts" "sd_litetts" "litetts.conf"'
SYSTEM_MODULE_DIRS = (
    "/usr/lib/speech-dispatcher-modules",
    "/usr/libexec/speech-dispatcher-modules",
    "/usr/lib64/speech-dispatcher-modules",
)
"""Where distributions put speech-dispatcher's modules; the first that exists wins (Debian's first)."""
SYSTEM_CONFIG_DIR = Path("/etc/speech-dispatcher")


class InstallError(Exception):
    """Installing cannot go on; the message says what to do instead."""


def user_data_dir(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")


def user_dirs(env: Mapping[str, str]) -> tuple[Path, Path]:
    """Per-user module folder and configuration folder, computed as speech-dispatcher does."""
    home = Path(env.get("HOME") or Path.home())
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    module_dir = Path(os.path.normpath(user_data_dir(env) / ".." / "libexec" / "speech-dispatcher-modules"))
    return module_dir, config / "speech-dispatcher"


def system_dirs() -> tuple[Path, Path]:
    """The distribution's module folder (multiarch ones too) and ``/etc/speech-dispatcher``."""
    candidates = [Path(d) for d in SYSTEM_MODULE_DIRS] + sorted(Path("/usr/lib").glob("*/speech-dispatcher-modules"))
    existing = [d for d in candidates if d.is_dir()]
    return (existing[0] if existing else candidates[0]), SYSTEM_CONFIG_DIR


def module_program() -> Path:
    """The installed ``sd_litetts`` script: beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / PROGRAM
    if beside.is_file():
        return beside
    found = shutil.which(PROGRAM)
    if found is None:
        raise InstallError(f"{PROGRAM} is not installed; reinstall the litettsd-client package")
    return Path(found).absolute()


def install(user: bool, destdir: Path | None, out: TextIO) -> None:
    """Link the module, write ``litetts.conf`` unless one exists, and say how to enable it.

    ``destdir`` prefixes every path written (for packaging and tests), as DESTDIR does.
    """
    module_dir, config_dir = user_dirs(os.environ) if user else system_dirs()
    if destdir is None and not user and os.geteuid() != 0:
        raise InstallError("a system-wide install needs root (try sudo); use --user to install for yourself")
    program = module_program()
    target_module_dir, target_config_dir = (
        (destdir / module_dir.relative_to("/"), destdir / config_dir.relative_to("/"))
        if destdir is not None
        else (module_dir, config_dir)
    )
    try:
        if user and destdir is None:
            # speech-dispatcher opens "$XDG_DATA_HOME/../libexec/...", which resolves only if
            # the data folder exists; on a fresh account it may not yet.
            user_data_dir(os.environ).mkdir(parents=True, exist_ok=True)
        target_module_dir.mkdir(parents=True, exist_ok=True)
        link = target_module_dir / PROGRAM
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(program)
        print(f"linked {link} -> {program}", file=out)
        conf = target_config_dir / "modules" / "litetts.conf"
        if conf.exists():
            print(f"kept {conf} (delete it and run this again for the default settings)", file=out)
        else:
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
            print(f"wrote {conf}", file=out)
    except OSError as exc:
        raise InstallError(f"cannot install: {exc}") from None
    speechd_conf = str(config_dir / "speechd.conf")
    if user:
        speechd_conf += f" (if it exists, else {SYSTEM_CONFIG_DIR / 'speechd.conf'})"
    print(
        "\nspeech-dispatcher loads the modules it finds there when speechd.conf has no AddModule line.\n"
        f"If {speechd_conf} has AddModule lines, add this one:\n"
        f"    {ADD_MODULE}\n"
        "and, to make litetts the default voice of every client:\n"
        "    DefaultModule litetts\n"
        "Then restart speech-dispatcher (it starts again with the next client), and try:\n"
        '    spd-say -o litetts "Hello"',
        file=out,
    )

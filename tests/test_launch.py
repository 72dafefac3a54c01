"""The ``litettsd`` command's entry point (``litettsd.launch``): start-up with the collector off."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest


def test_the_command_and_python_m_go_through_launch() -> None:
    (script,) = metadata.entry_points(group="console_scripts", name="litettsd")
    assert script.value == "litettsd.launch:main"
    result = subprocess.run([sys.executable, "-m", "litettsd", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("litettsd ")


def test_start_up_ends_with_collection_on_and_start_up_objects_frozen() -> None:
    """``litettsd.launch`` runs start-up with the garbage collector off; READY turns it back on."""
    probe = """
import gc
from litettsd import launch
gc.disable()                      # as launch.main does before importing the daemon
objects = [[i] for i in range(1000)]
launch.startup_finished()
print(gc.isenabled(), gc.get_freeze_count() >= 1000)
launch.startup_finished()          # a second call (after a reload, say) changes nothing
print(gc.isenabled())
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True", "True"]


def test_the_installed_packages_add_no_import_hook() -> None:
    """``make`` installs in strict editable mode: the default mode's per-package import hook is
    consulted by every import the daemon makes (7% of its time to READY)."""
    probe = "import sys; print([getattr(f, '__name__', type(f).__name__) for f in sys.meta_path])"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert "Editable" not in result.stdout, result.stdout


def test_the_daemon_imports_asyncio_without_tls_and_leaves_ssl_importable() -> None:
    """The daemon imports asyncio while ``ssl`` is blocked (OpenSSL's start-up cost), then unblocks it."""
    probe = """
import sys
from litettsd import launch
launch.import_asyncio_without_tls()
print("ssl" in sys.modules)
import asyncio.base_events, ssl
print(asyncio.base_events.ssl is None, ssl.OPENSSL_VERSION.startswith("OpenSSL"))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "True"]


def test_start_up_leaves_modules_it_does_not_need_unimported() -> None:
    """What the daemon does on its way to READY (its command line, the server's modules, every
    plugin, finding the default voice) imports none of these: after the server's own imports,
    ``importlib.metadata`` costs ~10 ms, the Prometheus client ~19 ms and ``onnx`` ~40 ms (it
    is for the one-time graph surgery, in a child process); ``importlib.resources`` ~5 ms,
    ``shutil`` with its archive formats ~3 ms, ``html.entities`` ~1 ms (medians of 3-5 fresh
    interpreters on a 2-core Sapphire Rapids)."""
    probe = """
import sys
import litettsd.server
from litettsd.cli import _parser
from litettsd.config import load_settings
from litettsd.plugins import build_plugin_manager
from litettsd_plugins.engines.piper import _packaged_voice

_parser().parse_args(["--socket", "/tmp/x.sock"])
load_settings()
build_plugin_manager()
assert _packaged_voice().is_file()
unwanted = ("importlib.metadata", "prometheus_client", "onnx", "importlib.resources", "shutil", "html.entities")
print(*[name for name in unwanted if name in sys.modules])
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == []


def test_reading_the_configuration_imports_neither_the_event_loop_nor_onnxruntime(tmp_path: Path) -> None:
    """Everything the daemon does before it starts opening its voice's session ahead (command
    line, configuration, CPU plan) stays clear of asyncio, numpy and onnxruntime: whatever
    they import before that point delays the session (see ``litettsd.prefetch``)."""
    probe = """
import sys
from litettsd import cli
from litettsd.config import ConfigInputs, load_settings
from litettsd.cpu import plan_cpus

settings = load_settings(ConfigInputs.capture([], [])).settings
plan_cpus(settings.cpu.affinity, settings.cpu.threads_setting())
print(*[name for name in ("asyncio", "numpy", "onnxruntime") if name in sys.modules])
"""
    # This machine's own configuration files stay out of it.
    environment = {**os.environ, "LITETTSD_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=environment)
    assert result.stdout.split() == []


def test_the_daemon_settles_openblas_before_numpy_loads(tmp_path: Path) -> None:
    """``cli.main`` sets ``OPENBLAS_NUM_THREADS=1`` before anything imports numpy: by the time
    the sessions start opening ahead (numpy loads right after, with the server), it is set and
    numpy is not in."""
    probe = """
import os, sys
from litettsd import cli

def opening_ahead(cache, key):
    print(os.environ.get("OPENBLAS_NUM_THREADS"), "numpy" in sys.modules, flush=True)
    os._exit(0)

cli.Prefetch.start = opening_ahead
cli.main(sys.argv[1:])
"""
    config = tmp_path / "litettsd.toml"
    config.write_text(f'[cache]\ndir = "{tmp_path / "cache"}"\n')
    environment = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    environment.update(LITETTSD_SYSTEM_CONFIG_DIR=str(tmp_path / "etc"), XDG_CONFIG_HOME=str(tmp_path))
    arguments = ["--socket", str(tmp_path / "s.sock"), "--config", str(config)]
    result = subprocess.run(
        [sys.executable, "-c", probe, *arguments], capture_output=True, text=True, env=environment, timeout=60
    )
    assert result.stdout.split() == ["1", "False"], result.stderr


def test_openblas_told_one_thread_starts_none() -> None:
    """What the setting above is for: OpenBLAS otherwise starts a thread per further CPU as
    numpy loads, and each spins ~100 ms during the daemon's start-up."""
    probe = "import os, numpy; print(len(os.listdir('/proc/self/task')))"
    told = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")
    environment = {name: value for name, value in os.environ.items() if name not in told}

    def threads(**extra: str) -> int:
        run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={**environment, **extra})
        return int(run.stdout)

    if threads() == 1:
        pytest.skip("numpy starts no threads here anyway (one CPU, or a BLAS other than OpenBLAS)")
    assert threads(OPENBLAS_NUM_THREADS="1") == 1


def test_the_running_daemon_has_not_loaded_tls(daemon: Any) -> None:
    """The daemon itself imports asyncio the way ``import_asyncio_without_tls`` does: the ``_ssl``
    extension (and with it OpenSSL) is nowhere in its memory once it has spoken."""
    tls = importlib.util.find_spec("_ssl")
    assert tls is not None and tls.origin is not None and Path(tls.origin).is_file(), tls  # else this proves nothing
    with daemon.connect() as conn:
        assert conn.request({"op": "synthesize", "id": 1, "text": "Hello."})[-1]["type"] == "end"
    mapped = Path(f"/proc/{daemon.proc.pid}/maps").read_text()
    assert tls.origin not in mapped and "libssl" not in mapped

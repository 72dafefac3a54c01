"""The daemon's side of systemd's service protocol, without linking libsystemd.

Two small pieces of systemd's C API are re-implemented here (the wire formats are stable
and documented in sd_notify(3) and sd_listen_fds(3)):

- ``Notifier`` sends state changes (READY=1, STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1)
  as datagrams to ``$NOTIFY_SOCKET``, so a ``Type=notify`` unit knows when the daemon can
  really speak, and so the watchdog can restart a hung daemon. Without ``$NOTIFY_SOCKET``
  (run from a terminal, a test, another supervisor) every call is a no-op.
- ``listen_fds`` takes over the listening sockets systemd passes to a socket-activated
  service, so clients can connect before the daemon is up and across restarts.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
"""systemd passes activated sockets as consecutive descriptors starting here."""

_LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
_DAEMON_ONLY = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", *_LISTEN_VARIABLES)


def child_environment() -> dict[str, str]:
    """The environment for a helper process: without what systemd meant for the daemon alone
    (a helper must not be able to tell systemd it is ready, or feed its watchdog)."""
    return {name: value for name, value in os.environ.items() if name not in _DAEMON_ONLY}


def _notify_address(value: str) -> str | None:
    """The socket address ``$NOTIFY_SOCKET`` names, or None when we cannot use it.

    A leading ``@`` means Linux's abstract namespace (a NUL byte on the wire). Other forms
    (``vsock:`` addresses, newer systemd only) are not ours to handle: a service manager
    that uses them is not the one these units target.
    """
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


_STATE_CHANGES = ("READY=", "RELOADING=", "STOPPING=")
_STATE_CHANGE_PATIENCE_S = 2.0
"""How long a state change waits for room in a manager's full queue (blocking the loop)."""


class Notifier:
    """Sends sd_notify messages to the service manager that started us, if any.

    Each message is one datagram of newline-separated ``KEY=VALUE`` assignments. The
    socket is opened on first use and kept, so pings every few seconds cost one sendto.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _notify_address(env.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when a service manager is listening for our notifications."""
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``assignments`` as one message; False when disabled or the send failed.

        Failures are logged once and otherwise ignored, like sd_notify's callers do: the
        daemon keeps serving, and systemd's start timeout or watchdog reports the problem.
        """
        if self._address is None:
            return False
        if self._socket is None:
            # Non-blocking: this runs on the event loop, and a manager that stops reading
            # (a full datagram queue) must cost a lost status line, never a hung daemon.
            self._socket = socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            )
        data = "\n".join(assignments).encode()
        try:
            self._socket.sendto(data, self._address)
        except BlockingIOError:
            # The manager's queue is full. READY, RELOADING and STOPPING change what systemd
            # does next, so they are worth a short wait; a status line or a ping is not.
            if not any(a.startswith(_STATE_CHANGES) for a in assignments):
                return False
            if self._send_within(data, _STATE_CHANGE_PATIENCE_S):
                return True
            log.warning("the service manager at %r is not reading; %s was lost", self._address, assignments[0])
            return False
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify the service manager at %r: %s", self._address, exc)
                self._failed = True
            return False
        return True

    def _send_within(self, data: bytes, seconds: float) -> bool:
        assert self._socket is not None and self._address is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.01)
            try:
                self._socket.sendto(data, self._address)
                return True
            except BlockingIOError:
                continue
            except OSError:
                return False
        return False

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete: the daemon serves requests now."""
        return self.send("READY=1", *_status_field(status))

    def status(self, text: str) -> bool:
        """A one-line description shown by ``systemctl status``."""
        return self.send(*_status_field(text))

    def reloading(self, status: str | None = None) -> bool:
        """A reload has begun; ``ready()`` ends it.

        MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) tell this reload from an
        older one; earlier versions ignore it.
        """
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={now_usec}", *_status_field(status))

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun, so systemd does not count it as a crash or a hang."""
        return self.send("STOPPING=1", *_status_field(status))

    def watchdog(self) -> bool:
        """Tell the watchdog the daemon is alive; see ``run_watchdog``."""
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        """Release the datagram socket (further sends reopen it)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status_field(text: str | None) -> list[str]:
    # A newline would start a new assignment and could forge one, e.g. "READY=1".
    return [] if text is None else ["STATUS=" + " ".join(text.splitlines())]


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between watchdog pings, or None when no watchdog watches this process.

    systemd sets WATCHDOG_USEC to the unit's WatchdogSec=; pinging at half that period
    (what sd_watchdog_enabled(3) recommends) leaves a full half period of slack for a
    busy machine. WATCHDOG_PID, when set, must name us: a child that inherited the
    variables is not the watched process.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    watched = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if watched and (not watched.isdigit() or int(watched) != (os.getpid() if pid is None else pid)):
        return None
    return int(usec) / 2 / 1_000_000


async def run_watchdog(notifier: Notifier, interval: float, healthy: Callable[[], bool]) -> None:
    """Ping the watchdog every ``interval`` seconds while ``healthy()`` holds; run as a task.

    The ping is sent from the event loop, so a blocked loop stops it. ``healthy`` adds what
    the loop cannot show by itself (is the inference thread still alive?). A failed check
    sends nothing: systemd then kills and restarts the daemon once WatchdogSec= passes,
    which is the point of having a watchdog.
    """
    import asyncio  # here, not at the top: the command line imports this module long before it needs a loop

    warned = False
    while True:
        if healthy():
            notifier.watchdog()
            warned = False
        elif not warned:
            log.error("health check failed; not pinging the systemd watchdog")
            warned = True
        await asyncio.sleep(interval)


@dataclass
class ListenSocket:
    """One socket passed by socket activation, with its FileDescriptorName= (or "unknown")."""

    name: str
    sock: socket.socket


def listen_fds(
    environ: MutableMapping[str, str] | None = None, pid: int | None = None, unset: bool = True
) -> list[ListenSocket]:
    """The sockets systemd passed us (empty when not socket-activated).

    Honours the sd_listen_fds(3) contract: the variables count only when LISTEN_PID is our
    pid, the descriptors start at 3, and the variables are removed (``unset``) so that a
    child process does not mistake our sockets for its own. The descriptors are made
    close-on-exec for the same reason.

    Raises ValueError when the variables are malformed: systemd never produces that, so
    something else is wrong and serving on a guessed socket would hide it.
    """
    env = os.environ if environ is None else environ
    try:
        listen_pid = env.get("LISTEN_PID", "")
        count = env.get("LISTEN_FDS", "")
        if not listen_pid or not count:
            return []
        if not listen_pid.isdigit() or not count.isdigit():
            raise ValueError(f"malformed socket activation variables LISTEN_PID={listen_pid!r} LISTEN_FDS={count!r}")
        if int(listen_pid) != (os.getpid() if pid is None else pid):
            return []  # meant for our parent; we inherited the environment, not the sockets
        number = int(count)
        names = env.get("LISTEN_FDNAMES", "")
        labels = names.split(":") if names else ["unknown"] * number
        if len(labels) != number:
            raise ValueError(f"LISTEN_FDNAMES={names!r} names {len(labels)} sockets, LISTEN_FDS={number}")
        sockets = []
        for offset, label in enumerate(labels):
            fd = SD_LISTEN_FDS_START + offset
            os.set_inheritable(fd, False)
            sockets.append(ListenSocket(label, socket.socket(fileno=fd)))
        return sockets
    finally:
        if unset:
            for key in _LISTEN_VARIABLES:
                env.pop(key, None)

"""litettsd: a local neural text-to-speech daemon serving speech over a Unix socket."""

__version__ = "0.1.0"

"""First-party litettsd engines."""

"""First-party litettsd metrics."""

"""First-party litettsd optimizers."""

"""First-party litettsd encoders."""

"""First-party litettsd normalizers."""

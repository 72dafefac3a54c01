"""Test-only plugins, loaded by dotted name through the [plugins] load setting."""

"""First-party litettsd plugins, registered through the ``litettsd`` entry-point group."""

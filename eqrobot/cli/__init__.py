"""The ``eqrobot`` command line: thin adapters over the library (one subcommand per file)."""

"""The `bazaar` command line: one thin module per command."""

"""The pure game domain: catalog, player state, trade rules and events.

Nothing in this package performs I/O or imports anything outside the standard library,
so every rule can be tested in milliseconds and reused by every store and engine.
"""

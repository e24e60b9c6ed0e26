"""bazaar: a trade engine for an online fantasy game with a behaviour-analytics pipeline."""

__version__ = "0.1.0"

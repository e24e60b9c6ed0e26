"""Put on PYTHONPATH by `make test-ahead`: every Python process the suite starts moves its
wall clock ahead before it runs anything (tests/support/clock_ahead.py says why)."""

import os

if os.environ.get("BAZAAR_CLOCK_AHEAD"):
    from tests.support.clock_ahead import travel

    travel()

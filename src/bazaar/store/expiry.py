"""On-time offer expiry: one sweeper per `bazaar serve` (in the supervisor with --workers N,
never per worker) records every open offer past its `expires_at` as expired, releasing its
escrow and writing `offer_expired`, within about a second of the deadline, whether or not
anyone touches the offer. The store's own atomic step decides any race with a touch
(`OfferBook.expire_due_offers` records each offer once)."""

from __future__ import annotations

import logging
import threading

from bazaar.domain.errors import BazaarError
from bazaar.store.offer_book import OfferBook

log = logging.getLogger("bazaar.expiry")

SWEEP_EVERY_SECONDS = 0.25  # a deadline is recorded within this plus one sweep's work
BATCH = 500  # offers per sweep step; a backlog is worked through without waiting


class ExpirySweeper:
    """`expire_due_offers` on a daemon thread every `interval` seconds, until `stop()`."""

    def __init__(self, offers: OfferBook, interval: float = SWEEP_EVERY_SECONDS) -> None:
        self.offers = offers
        self.interval = interval
        self.expired = 0  # offers this sweeper recorded as expired
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bazaar-expiry", daemon=True)

    def start(self) -> ExpirySweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while (done := self.offers.expire_due_offers(BATCH)) and not self._stop.is_set():
                    self.expired += done
                    if done < BATCH:
                        break
                self.last_error = None
            except BazaarError as exc:  # the store is away: the next wake-up tries again
                self.last_error = str(exc)
                log.warning("offer expiry sweep: %s", exc)
            except Exception:  # a defect: say so loudly, keep serving
                log.exception("offer expiry sweep failed")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

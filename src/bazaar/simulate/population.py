"""Who lives in the simulated economy: each resident's class, name and appetite for trade.

Residents are numbered by slot (0..N-1) in the simulator; the server's player ids are only
known once the players exist, so plans name slots and the driver maps them to ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import USERNAME_MAX

_FIRST = (
    "Al", "Bran", "Cor", "Da", "El", "Fen", "Gar", "Hal", "Isa", "Jor", "Kael", "Lys",
    "Mor", "Nim", "Os", "Per", "Quin", "Ros", "Syl", "Tor", "Ul", "Vel", "Wyn", "Yor",
)  # fmt: skip
_MIDDLE = ("a", "e", "i", "o", "an", "en", "ar", "or", "wyn", "ric", "mir", "dra")
_LAST = (
    "Ashvale", "Brightwater", "Coldforge", "Deepmoor", "Emberfall", "Frostbeard",
    "Greenhill", "Hollowell", "Ironside", "Lightfoot", "Marsh", "Oakenshield",
    "Quickhand", "Redmane", "Stonehand", "Thornfield", "Underbough", "Wolfsbane",
)  # fmt: skip

# Pareto shape for how often each resident starts a trade: with 1.3 (capped at 20x the
# least active) the busiest 10% of residents start about 40% of all trades.
ACTIVITY_SHAPE = 1.3
ACTIVITY_CAP = 20.0  # a busy player, not a bot: keeps any one chain of trades short


@dataclass(frozen=True, slots=True)
class Resident:
    slot: int
    username: str
    player_class: str
    activity: float  # relative rate at which this resident starts trades


def make_username(rng: random.Random, slot: int) -> str:
    """A fantasy name, unique by its slot suffix, within the API's username rules."""
    first = rng.choice(_FIRST) + rng.choice(_MIDDLE)
    name = f"{first}_{rng.choice(_LAST)}{slot}"
    return name[:USERNAME_MAX]


def draw_population(catalog: Catalog, count: int, rng: random.Random) -> list[Resident]:
    """`count` residents with classes drawn by the catalog's weights (as the API's
    "random" class does) and heavy-tailed activity: a few residents trade a lot."""
    residents = []
    for slot in range(count):
        pc = catalog.draw_class(rng)
        activity = min(rng.paretovariate(ACTIVITY_SHAPE), ACTIVITY_CAP)
        residents.append(Resident(slot, make_username(rng, slot), pc.name, activity))
    return residents

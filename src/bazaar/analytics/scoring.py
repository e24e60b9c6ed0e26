"""The detectors against the truth: precision and recall per kind and overall.

A truth file (what `bazaar simulate --truth` and the demo write) names every exploiter's
player_id, kind and role. A detector's finding is a player it names; it is right when the
truth labels that player with the detector's kind (any role). Per kind:

    precision = right findings / findings        (None when the detector named no one)
    recall    = labelled players found / labelled players   (None when none are labelled)

and overall the same over all three kinds together; `roles_right` counts right findings
whose role is the labelled one too. `honest_flagged` lists players no truth entry names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bazaar.analytics.exploits import BEHAVIOUR_DETECTORS, KIND_OF_DETECTOR
from bazaar.domain.errors import AnalyticsError

Json = Any


def load_truth(path: Path) -> dict[str, Json]:
    try:
        truth = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise AnalyticsError(f"cannot read the truth file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise AnalyticsError(f"the truth file {path} is not JSON: {exc}") from None
    entries = truth.get("exploiters") if isinstance(truth, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and {"player_id", "kind", "role"} <= e.keys() for e in entries
    ):
        raise AnalyticsError(
            f"the truth file {path} must hold {{'exploiters': [{{'player_id', 'kind', 'role'"
            "}, ...]}, as `bazaar simulate --truth` writes it"
        )
    return dict(truth)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score_detections(truth: Mapping[str, Json], exploits: Mapping[str, Json]) -> dict[str, Json]:
    labelled: dict[int, tuple[str, str]] = {
        int(e["player_id"]): (str(e["kind"]), str(e["role"])) for e in truth["exploiters"]
    }
    per_kind: dict[str, Json] = {}
    totals = {"labelled": 0, "flagged": 0, "right": 0, "found": 0, "roles_right": 0}
    flagged_anywhere: set[int] = set()
    for detector in BEHAVIOUR_DETECTORS:
        kind = KIND_OF_DETECTOR[detector]
        roles: dict[int, set[str]] = {}
        for s in exploits.get(detector, {}).get("suspects", []):
            roles.setdefault(int(s["player_id"]), set()).add(str(s["role"]))
        flagged_anywhere |= roles.keys()
        of_kind = {p for p, (k, _) in labelled.items() if k == kind}
        right = roles.keys() & of_kind
        counts = {
            "labelled": len(of_kind),
            "flagged": len(roles),
            "right": len(right),
            "found": len(right),
            "roles_right": sum(1 for p in right if labelled[p][1] in roles[p]),
        }
        for key, n in counts.items():
            totals[key] += n
        per_kind[kind] = {
            "detector": detector,
            **counts,
            "precision": _ratio(counts["right"], counts["flagged"]),
            "recall": _ratio(counts["found"], counts["labelled"]),
            "missed": sorted(of_kind - roles.keys()),
            "wrongly_flagged": sorted(roles.keys() - of_kind),
        }
    return {
        "kinds": per_kind,
        "overall": {
            **totals,
            "precision": _ratio(totals["right"], totals["flagged"]),
            "recall": _ratio(totals["found"], totals["labelled"]),
        },
        "honest_flagged": sorted(flagged_anywhere - labelled.keys()),
    }

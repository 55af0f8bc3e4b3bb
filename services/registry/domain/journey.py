"""The coaching journey of an SME: identified → selected → trained → coached → internationalised."""

from __future__ import annotations

from contracts.errors import Refused

STAGES = ("identified", "selected", "trained", "coached", "internationalised")
# Forward one step; a MAP may also drop an SME back to identified (not selected after all).
ALLOWED: dict[str, set[str]] = {
    "identified": {"selected"},
    "selected": {"trained", "identified"},
    "trained": {"coached", "identified"},
    "coached": {"internationalised", "identified"},
    "internationalised": set(),
}


def check_transition(current: str, target: str) -> None:
    if target not in ALLOWED.get(current, set()):
        allowed = sorted(ALLOWED.get(current, set())) or ["none"]
        raise Refused(
            "conflict",
            f"an SME cannot move from {current} to {target}",
            current=current,
            requested=target,
            allowed=allowed,
        )

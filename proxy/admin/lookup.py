"""The merchandiser's lookup of one shopper: the class the proxy uses for them now and one
timeline of everything behind it.

Once the shop has named a shopper (the identify header), the proxy classifies from the profile's
state, shared by all their devices. So the lookup does the same: "class now" is the profile's
class, and the timeline joins every device's session journal with the identify merges, each
event labelled with its device and marked when its page failed and it was undone. Read-only;
admin requests only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from explain.explanation import explain
from signals.errors import StoreUnavailable
from signals.state import RATE_AT
from signals.store import PROFILE_PREFIX

if TYPE_CHECKING:
    from explain.explanation import Journal
    from explain.governance import Governance
    from proxy.engine import Engine

HISTORY_GONE = ("the timeline of this shopper is gone: the proxy keeps timelines in memory for "
                "its most recent sessions only, and it has restarted or served many other "
                "shoppers since")


async def _state(engine: Engine, key: str, now: float) -> Any:
    state = engine.store.get(key, now)
    if state is None and engine.store.remote:
        await engine.store.fetch(key)  # the one round trip; the store never raises
        state = engine.store.get(key, now)
    return state


async def profile_state(engine: Engine, profile: str, now: float) -> Any:
    """The profile's state (None when there is no such profile)."""
    return await _state(engine, PROFILE_PREFIX + profile, now)


async def shopper_view(
    engine: Engine, gov: Governance, *, session: str | None, profile: str | None, now: float,
) -> dict[str, Any]:
    """One shopper's story. ``session``: the raw session token looked up (if any);
    ``profile``: the profile pseudonym when the shop has named the shopper."""
    journal = gov.journal
    state = await profile_state(engine, profile, now) if profile is not None else None
    identified = state is not None
    if state is None and session is not None:
        state = await _state(engine, session, now)
    sessions = journal.sessions_of([profile]) if identified and profile is not None else []
    if session is not None and session not in sessions:
        sessions.insert(0, session)
    entries: list[tuple[str, Journal]] = []
    for s in sessions:
        e = journal.get(s)
        if e is not None:
            entries.append((s, e))
    # Devices numbered by first appearance, so "device 1" is where the story starts.
    entries.sort(key=lambda se: se[1].events[0].ts if se[1].events else now)
    timeline: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    devices = []
    for n, (s, entry) in enumerate(entries, 1):
        label = f"device {n}" if len(entries) > 1 else "this device"
        devices.append({"device": label, "session": entry.pseudonym,
                        "looked_up": s == session, "events": len(entry.events)})
        view = entry.to_dict()
        for e in view["timeline"]:
            timeline.append({**e, "device": label})
        for c in view["changes"]:
            changes.append({**c, "device": label})
    merges: list[dict[str, Any]] = []
    notes: list[str] = []
    if identified and profile is not None:
        try:
            merges = [{"ts": m["at"], "events": m["events"]}
                      for m in await engine.store.merges_of(profile, now)]
        except StoreUnavailable:
            notes.append("the profile store is unavailable: sign-ins are not shown")
    timeline.sort(key=lambda e: e["ts"])
    for m in merges:  # the device signed in: the one whose last event before it is latest
        before = [e for e in timeline if e["ts"] <= m["ts"]]
        m["device"] = before[-1]["device"] if before else None
    changes.sort(key=lambda c: c["ts"])
    if state is None and not entries:
        raise LookupError("no live session or profile with that id (expired or never seen)")
    if not entries:
        notes.append(HISTORY_GONE)
    first = entries[0][1] if entries else None
    looked_up = journal.get(session) if session is not None else None
    out: dict[str, Any] = {
        "session": (looked_up.pseudonym if looked_up is not None
                    else gov.pseudonym("s:" + session) if session is not None else None),
        "profile": profile if identified else (first.profile if first else None),
        "identified": identified,
        "events": state.events_seen if state is not None else 0,
        "started_at": (state.started_at or None) if state is not None else None,
        "devices": devices, "timeline": timeline, "changes": changes, "merges": merges,
        "decisions": sum(e.decisions for _, e in entries), "notes": notes,
    }
    active = engine.active
    if state is not None and active is not None:
        model = active.model
        # As of the shopper's last request: the class the shop was sent then, and the one the
        # proxy holds for them until they come back (time alone would move session_minutes).
        last = float(state.v[RATE_AT])
        at = last if 0.0 < last <= now else now
        out["as_of"] = at
        # The class the proxy holds for the session (its hysteresis memory) as "previous":
        # re-scoring the same state with it gives the class given at that request.
        held = active.memory.get(PROFILE_PREFIX + profile if identified and profile is not None
                                 else session if session is not None else "")
        out.update(explain(model, state, at, min_events=engine.options.min_events,
                           previous=model.slugs[held] if held >= 0 else None,
                           switch_margin=engine.options.class_switch_margin))
        # Every segment's usual range, so the page can say "inside" or "outside" in words.
        out["radii"] = {slug: round(math.sqrt(float(r2)), 4)
                        for slug, r2 in zip(model.slugs, model.radius2.tolist(), strict=True)}
    return out

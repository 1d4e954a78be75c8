"""The demo book's dunning: three sequences (consumer, corporate, gentle SME) assigned by segment,
so the first `python -m core remind` has reminders to send, blocks to explain and calls to make."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.roles import Actor
from core.services.dunning import NewStep, assign_sequence, create_sequence

SEQUENCES = {
    "Standard consumer": [
        NewStep(offset_days=-3, channel="email", stage="reminder", business_days=True),
        NewStep(offset_days=3, channel="email", stage="reminder", business_days=True),
        NewStep(offset_days=10, channel="sms", stage="firm"),
        NewStep(offset_days=21, channel="email", stage="firm"),
        NewStep(offset_days=35, channel="call", stage="final_notice"),
        NewStep(offset_days=60, channel="email", stage="final_notice", mode="approval"),
        NewStep(offset_days=120, channel="letter", stage="legal_handover", mode="approval"),
    ],
    "Corporate": [
        NewStep(offset_days=5, channel="email", stage="reminder", business_days=True),
        NewStep(offset_days=20, channel="email", stage="firm", business_days=True),
        NewStep(offset_days=40, channel="call", stage="final_notice"),
        NewStep(offset_days=75, channel="email", stage="final_notice", mode="approval"),
    ],
    "Gentle SME": [
        NewStep(offset_days=7, channel="email", stage="reminder", business_days=True),
        NewStep(offset_days=30, channel="call", stage="firm"),
    ],
}
ASSIGNED = (  # segment, sequence; anything else follows "Standard consumer"
    ("Enterprise", "Corporate"),
    ("Mid-market", "Corporate"),
    ("Distributor", "Corporate"),
    ("SME", "Gentle SME"),
    ("SMB", "Gentle SME"),
)


def seed_dunning(session: Session, actor: Actor) -> dict[str, int]:
    ids = {name: create_sequence(session, actor, name=name, steps=steps) for name, steps in SEQUENCES.items()}
    for segment, name in ASSIGNED:
        assign_sequence(session, actor, ids[name], segment=segment)
    assign_sequence(session, actor, ids["Standard consumer"])
    return ids

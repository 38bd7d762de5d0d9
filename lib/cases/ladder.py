"""The contact-and-escalation ladder of SPEC §5: steps, channels, outcomes, referral team, case state."""

from __future__ import annotations

from dataclasses import dataclass

TRACKS = ("welfare", "visa")
WELLBEING_QUEUE = "wellbeing"  # the owner of a case handed over to the wellbeing team's queue
TRACK_LABELS = {"welfare": "Welfare", "visa": "Visa & Immigration"}

CHANNELS = (
    "uni_email",
    "personal_email",
    "teams_call",
    "teams_message",
    "phone",
    "sms",
    "letter",
    "in_person",
)
CHANNEL_LABELS = {
    "uni_email": "University e-mail",
    "personal_email": "Personal e-mail",
    "teams_call": "Teams call",
    "teams_message": "Teams message",
    "phone": "Phone call",
    "sms": "Text message (SMS)",
    "letter": "Letter",
    "in_person": "In person",
}

OUTCOMES = (
    "no_response",
    "replied_fine",
    "replied_support_needed",
    "signposted",
    "tutorial_booked",
    "tutorial_attended",
)
OUTCOME_LABELS = {
    "no_response": "No response",
    "replied_fine": "Replied — fine",
    "replied_support_needed": "Replied — support needed",
    "signposted": "Signposted to support",
    "tutorial_booked": "Tutorial booked",
    "tutorial_attended": "Tutorial attended",
}

CLOSE_OUTCOMES = ("re_engaged", "support_in_place", "no_concern", "withdrawn", "other")
CLOSE_OUTCOME_LABELS = {
    "re_engaged": "Re-engaged",
    "support_in_place": "Support in place",
    "no_concern": "No concern",
    "withdrawn": "Withdrawn",
    "other": "Other",
}

EMERGENCY_DECISIONS = ("initiate", "do_not_initiate")
EMERGENCY_DECISION_LABELS = {
    "initiate": "Initiate the emergency contact policy",
    "do_not_initiate": "Do not initiate (yet)",
}

ENTRY_KINDS = (
    "open",
    "contact",
    "handover",
    "referral",
    "emergency_decision",
    "close",
    "reopen",
    "correction",
)

STATES = ("open", "escalated", "referred", "emergency", "closed")
STATE_LABELS = {
    "open": "Open",
    "escalated": "With the wellbeing team",
    "referred": "Referred",
    "emergency": "Emergency contact decided",
    "closed": "Closed",
}

# Days allowed for a next action when none is given (SPEC §5: 5 working days after a contact).
DEFAULT_WAIT_WORKING_DAYS = 5
# A newly opened case asks for the step-1 e-mail within this many working days.
FIRST_CONTACT_WORKING_DAYS = 2
# A case with no entry for this many working days is stalled.
STALLED_WORKING_DAYS = 10

RESX = "ResX"
FACULTY_SUPPORT = "Faculty Support and Wellbeing"

_ALL_CHANNELS = CHANNELS
_WELLBEING_CHANNELS = (
    "uni_email",
    "personal_email",
    "phone",
    "sms",
    "teams_call",
    "teams_message",
    "letter",
    "in_person",
)


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: what it is, which channels it allows, who may record it."""

    number: int
    title: str
    action: str  # the next action that this step asks for, in words
    channels: tuple[str, ...]
    roles: tuple[str, ...]  # roles that may record a contact at this step


LADDER: dict[int, Step] = {
    s.number: s
    for s in (
        Step(
            1,
            "Welfare e-mail",
            "E-mail the student's university account checking on their welfare and signposting support",
            ("uni_email",),
            ("tutor", "senior_tutor", "wellbeing"),
        ),
        Step(
            2,
            "Tutorial invitation",
            "Invite the student to a personal tutorial about engagement and attendance",
            ("uni_email", "teams_message", "in_person", "letter"),
            ("tutor", "senior_tutor", "wellbeing"),
        ),
        Step(
            3,
            "Other means",
            "Try other means: personal e-mail, Teams call or message, phone call, text message",
            CHANNELS[1:],  # every channel but the university e-mail
            ("tutor", "senior_tutor", "wellbeing"),
        ),
        Step(
            4,
            "Wellbeing team",
            "Wellbeing team: further e-mail, telephone and text contacts",
            _WELLBEING_CHANNELS,
            ("wellbeing",),
        ),
        Step(
            5,
            "Referral",
            "Refer the student (ResX on campus, Faculty Support and Wellbeing off campus)",
            _WELLBEING_CHANNELS,
            ("wellbeing",),
        ),
        Step(
            6,
            "Emergency contact",
            "Decide whether to initiate the emergency contact policy",
            _WELLBEING_CHANNELS,
            ("wellbeing",),
        ),
    )
}

# The visa team's own contacts (SPEC §5, recorded separately): steps 1–3, every channel.
VISA_STEPS = (1, 2, 3)
VISA_ROLES = ("visa",)


def step_title(step: int | None) -> str:
    """'Step 2 — Tutorial invitation' (or '' for no step)."""
    if step is None or step not in LADDER:
        return ""
    return f"Step {step} — {LADDER[step].title}"


def channels_for(track: str, step: int) -> tuple[str, ...]:
    """The channels a contact at this step of this track may use."""
    if track == "visa":
        return _ALL_CHANNELS if step in VISA_STEPS else ()
    return LADDER[step].channels if step in LADDER else ()


def contact_steps_for(track: str, role: str) -> tuple[int, ...]:
    """The steps at which this role may record a contact on this track."""
    if track == "visa":
        return VISA_STEPS if role in VISA_ROLES else ()
    return tuple(n for n, s in LADDER.items() if role in s.roles)


@dataclass(frozen=True)
class Referral:
    """Which team a step-5 referral goes to, and why, in words."""

    team: str
    reason: str


def referral_for(residence: str | None) -> Referral:
    """ResX when the student lives on campus, the Faculty Support and Wellbeing team otherwise."""
    if (residence or "").strip().lower() == "on_campus":
        return Referral(RESX, "the student lives on campus (term-time residence: on-campus hall)")
    if (residence or "").strip().lower() == "off_campus":
        return Referral(FACULTY_SUPPORT, "the student lives off campus (term-time residence)")
    return Referral(
        FACULTY_SUPPORT,
        "the student's term-time residence is not recorded, so not known to be on campus",
    )


def state_for(step: int, closed: bool) -> str:
    """A case's state from its step: open (1–3), escalated (4), referred (5), emergency (6)."""
    if closed:
        return "closed"
    if step >= 6:
        return "emergency"
    if step == 5:
        return "referred"
    if step == 4:
        return "escalated"
    return "open"


def suggested_next_action(track: str, step: int, outcome: str | None) -> str:
    """The next action the ladder suggests after an entry at this step with this outcome."""
    if track == "visa":
        if outcome in (None, "no_response"):
            return "Visa team: try the student again"
        return "Visa team: follow up the reply"
    if outcome in (None, "no_response"):
        following = min(step + 1, 6)
        if step >= 6:
            return "Follow up the emergency contact decision"
        return f"{step_title(following)}: {LADDER[following].action}"
    return {
        "replied_fine": "Check engagement has recovered, then close the case",
        "replied_support_needed": "Signpost to support and follow up",
        "signposted": "Check the student has taken up the support",
        "tutorial_booked": "Hold the tutorial",
        "tutorial_attended": "Check engagement after the tutorial, then close the case",
    }.get(outcome, "Follow up")

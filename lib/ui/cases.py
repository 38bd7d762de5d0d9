"""Case screens: the Case page, the Student page's case section and the Home worklists."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from lib.access import PAGES, NotAllowed, User, can_on_track, visible_tracks
from lib.cases import ladder, service, views, worklists
from lib.cases.service import CaseInputError, Contact
from lib.safe_markdown import escape_markdown
from lib.store.db import read_scope, session_scope
from lib.ui.cache import by_scope
from lib.ui.case_mail import message_templates
from lib.ui.widgets import log_view

CASE_PAGE = PAGES["case"].path if "case" in PAGES else "app_pages/case_page.py"
STUDENT_PAGE = PAGES["student"].path
ROWS_PER_SECTION = 10


def _label(labels: Mapping[Any, str]) -> Callable[[Any], str]:
    """A select box's format_func: the label of a value (the value itself when it has none)."""
    return lambda value: str(labels.get(value, value))


def md(text: object) -> str:
    """User or stored text made safe for Markdown (the shared helper)."""
    return escape_markdown(text)


# --- cached reads ---------------------------------------------------------------------------------


def cases_version() -> str:
    with read_scope() as session:
        return worklists.cases_version(session)


@by_scope  # users of one scope share the cached read
@st.cache_data(show_spinner=False, max_entries=256)
def _worklist(data_version: str, case_version: str, user: User, today: date) -> dict:
    with read_scope() as session:
        return worklists.worklist(session, user, today)


def _state(name: str, case_id: int | str) -> str:
    return f"case_{name}_{case_id}"


def _form_key(name: str, case_id: int | str) -> str:
    """A per-render nonce for buttons without content (opening a case): kept until it succeeds."""
    holder = _state(f"{name}_idem", case_id)
    if holder not in st.session_state:
        st.session_state[holder] = uuid.uuid4().hex
    return st.session_state[holder]


def _content_key(name: str, case_id: int | str, user: User, *values: object) -> str:
    """The idempotency key of a form submission: its content. A double click (or a second click
    after a rerun) submits the same content and records one entry, whenever it arrives."""
    text = "\x1f".join([name, str(case_id), user.username, *map(str, values)])
    return f"ui:{name}:" + hashlib.sha256(text.encode()).hexdigest()[:48]


def _errors(name: str, case_id: int | str) -> dict[str, str]:
    return st.session_state.get(_state(f"{name}_errors", case_id), {})


def _field_error(errors: dict[str, str], field: str) -> None:
    if field in errors:
        st.error(errors[field], icon="⚠️")


def _run_action(name: str, case_id: int | str, user: User, action: Callable, done: str) -> None:
    """Run one case action in its own transaction; refusals are kept per field, nothing saved."""
    errors_key = _state(f"{name}_errors", case_id)
    try:
        with session_scope() as session:
            result = action(session)
    except CaseInputError as error:
        st.session_state[errors_key] = dict(error.errors)
        return
    except NotAllowed as error:  # CaseDenied (track) or the role
        st.session_state[errors_key] = {"form": str(error)}
        return
    st.session_state[errors_key] = {}
    st.session_state.pop(_state(f"{name}_idem", case_id), None)  # the next submission is new
    st.session_state["case_flash"] = done
    if name == "open" and result is not None:
        st.session_state["case_opened"] = result.id


# --- the Case page --------------------------------------------------------------------------------


def case_header(view: views.CaseView) -> None:
    st.header(f"{md(view.student_name)} · {md(view.student_id)}")
    track = ladder.TRACK_LABELS[view.track]
    state = ladder.STATE_LABELS.get(view.state, view.state)
    st.markdown(
        f"**{track} case {view.case_id}** · {state} · opened {view.opened_on} · with "
        f"{md('the wellbeing team' if view.owner == service.WELLBEING_QUEUE else view.owner)}"
    )
    cols = st.columns(3)
    cols[0].metric("Step", f"{view.step} of 6" if view.track == "welfare" else f"{view.step}")
    cols[0].caption(ladder.step_title(view.step))
    if view.closed:
        cols[1].metric("Outcome", ladder.CLOSE_OUTCOME_LABELS.get(view.close_outcome or "", "—"))
    else:
        cols[1].markdown(f"**Next action**  \n{md(view.next_action or '—')}")
        (cols[2].error if "overdue" in view.due_words else cols[2].info)(view.due_words)
    if view.referral_team:
        st.caption(f"Referred to {md(view.referral_team)}.")
    st.markdown(
        "**Contact details** — "
        + " · ".join(f"{k}: {md(v or '—')}" for k, v in view.contact.items())
    )


def _contact_form(view: views.CaseView, user: User) -> None:
    cid = view.case_id
    errors = _errors("contact", cid)
    st.subheader("Record a contact attempt")
    steps = list(ladder.LADDER) if view.track == "welfare" else list(ladder.VISA_STEPS)
    labels = {
        s: ladder.step_title(s) + ("" if s in view.contact_steps else " (wellbeing team only)")
        for s in steps
    }
    default = view.step if view.step in steps else steps[0]
    step = st.selectbox(
        "Step of the ladder",
        steps,
        index=steps.index(default),
        format_func=_label(labels),
        key=_state("contact_step", cid),
    )
    _field_error(errors, "step")
    channels = list(ladder.channels_for(view.track, step) or ladder.CHANNELS)

    def submit() -> None:
        contact = _entered_contact(
            "contact",
            cid,
            st.session_state.get(_state("contact_step", cid)),
            st.session_state.get(_state("contact_staff", cid)) or user.username,
        )
        key = _content_key("contact", cid, user, *contact.__dict__.values())
        _run_action(
            "contact",
            cid,
            user,
            lambda session: service.record_contact(session, user, cid, contact, key=key),
            "Contact attempt recorded.",
        )

    with st.form(_state("contact_form", cid), clear_on_submit=False):
        _contact_fields("contact", cid, errors, channels, user=user)
        st.form_submit_button("Record contact", on_click=submit, key=_state("contact_submit", cid))


def _entered_contact(
    name: str, slot: int | str, step: int | None, staff: str | None = None
) -> Contact:
    """The contact attempt a form's fields (`_contact_fields`) hold in the session state."""
    s = st.session_state
    day, at = s.get(_state(f"{name}_day", slot)), s.get(_state(f"{name}_time", slot))
    return Contact(
        contacted_at=datetime.combine(day, at) if day and at else None,
        channel=s.get(_state(f"{name}_channel", slot)),
        outcome=s.get(_state(f"{name}_outcome", slot)),
        note=s.get(_state(f"{name}_note", slot)) or "",
        next_action=s.get(_state(f"{name}_next", slot)) or "",
        next_due=s.get(_state(f"{name}_due", slot)),
        step=step,
        staff_username=staff,
    )


def _contact_fields(
    name: str,
    slot: int | str,
    errors: dict[str, str],
    channels: list[str],
    user: User | None = None,
    old: Mapping[str, Any] | None = None,
) -> None:
    """A contact attempt's fields: empty for a new one (with who made it, for `user`), or the
    recorded values of `old` to correct."""
    _field_error(errors, "form")
    _field_error(errors, "case_id")
    if old is None:
        _field_error(errors, "student_id")
    now = datetime.now().replace(second=0, microsecond=0)
    when = old["contacted_at"] if old else now
    c1, c2 = st.columns(2)
    c1.date_input(
        "Date of the contact",
        value=when.date() if old else date.today(),
        key=_state(f"{name}_day", slot),
    )
    c2.time_input("Time", value=when.time(), key=_state(f"{name}_time", slot))
    _field_error(errors, "contacted_at")
    for field, label, options, labels in (
        ("channel", "Channel", channels, ladder.CHANNEL_LABELS),
        ("outcome", "Outcome", list(ladder.OUTCOMES), ladder.OUTCOME_LABELS),
    ):
        before = old[field] if old else None
        st.selectbox(
            label,
            options,
            index=options.index(before) if before in options else None,
            format_func=_label(labels),
            placeholder=None if old else f"Choose the {field}",
            key=_state(f"{name}_{field}", slot),
        )
        _field_error(errors, field)
    if user is not None:
        st.text_input(
            "Who made the contact (staff username)",
            value=user.username,
            max_chars=100,
            key=_state(f"{name}_staff", slot),
        )
        _field_error(errors, "staff_username")
    next_label = "Next action" if old else "Next action (empty: the ladder's suggestion)"
    for widget, part, field, label, limit in (
        (st.text_area, "note", "note", "Note", service.NOTE_MAX),
        (st.text_input, "next", "next_action", next_label, service.ACTION_MAX),
    ):
        text = old[field] if old else ""
        widget(label, value=text, max_chars=limit, key=_state(f"{name}_{part}", slot))
        _field_error(errors, field)
    st.date_input(
        "Next action due" if old else "Next action due (empty: 5 working days after the contact)",
        value=old["next_due"] if old else None,
        key=_state(f"{name}_due", slot),
    )
    _field_error(errors, "next_due")


def _simple_form(
    name: str,
    view: views.CaseView,
    user: User,
    title: str,
    button: str,
    fields: Callable[[dict[str, str]], None],
    action: Callable[[Session, str], object],
    done: str,
) -> None:
    cid = view.case_id
    errors = _errors(name, cid)
    prefix = _state(name, cid).removesuffix(f"_{cid}")

    def submit() -> None:
        values = sorted(
            (k, str(v))
            for k, v in st.session_state.items()
            if str(k).startswith(prefix + "_")
            and str(k).endswith(f"_{cid}")
            and not any(part in str(k) for part in ("_errors_", "_submit_", "_idem_", "_form_"))
        )
        key = _content_key(name, cid, user, view.state, view.step, *values)
        _run_action(name, cid, user, lambda session: action(session, key), done)

    with st.form(_state(f"{name}_form", cid)):
        st.markdown(f"**{title}**")
        _field_error(errors, "form")
        _field_error(errors, "case_id")
        fields(errors)
        st.form_submit_button(button, on_click=submit, key=_state(f"{name}_submit", cid))


def _text(name: str, cid: int, field: str, label: str, errors: dict[str, str]) -> None:
    st.text_area(label, max_chars=service.NOTE_MAX, key=_state(f"{name}_{field}", cid))
    _field_error(errors, field)


def _text_form(
    view: views.CaseView,
    user: User,
    field: tuple[str, str, str],
    words: tuple[str, str],
    action: Callable[..., object],
    done: str,
) -> None:
    """A form of one text: `field` is (form name, field, label), `words` (title, button);
    `action(session, user, case_id, text, key=...)` records it."""
    name, part, label = field
    cid = view.case_id
    _simple_form(
        name,
        view,
        user,
        *words,
        lambda e: _text(name, cid, part, label, e),
        lambda session, key: action(
            session, user, cid, st.session_state.get(_state(f"{name}_{part}", cid)) or "", key=key
        ),
        done,
    )


def _action_forms(view: views.CaseView, user: User) -> None:
    cid = view.case_id
    s = st.session_state
    a = view.actions
    if a["handover"]:
        _text_form(
            view,
            user,
            ("handover", "note", "What has been tried, and why"),
            ("Hand over to the wellbeing team (step 4)", "Hand over"),
            service.hand_over,
            "Handed over to the wellbeing team.",
        )
    if a["refer"] and view.referral:
        team = view.referral.team
        _text_form(
            view,
            user,
            ("refer", "note", "Note for the referral (optional)"),
            (f"Refer to {team} (step 5) — because {view.referral.reason}", f"Refer to {team}"),
            service.refer,
            f"Referred to {team}.",
        )
    if a["emergency_decision"]:

        def emergency_fields(errors: dict[str, str]) -> None:
            st.radio(
                "Decision",
                ladder.EMERGENCY_DECISIONS,
                index=None,
                format_func=_label(ladder.EMERGENCY_DECISION_LABELS),
                key=_state("emergency_decision", cid),
            )
            _field_error(errors, "decision")
            _text("emergency", cid, "reason", "Reason for the decision", errors)
            st.selectbox(
                "Authorised by (a second member of the wellbeing team)",
                view.colleagues,
                index=None,
                placeholder="Choose who authorised it",
                key=_state("emergency_authorised", cid),
            )
            _field_error(errors, "authorised_by")

        _simple_form(
            "emergency",
            view,
            user,
            "Emergency contact decision (step 6)",
            "Record the decision",
            emergency_fields,
            lambda session, key: service.emergency_decision(
                session,
                user,
                cid,
                s.get(_state("emergency_decision", cid)) or "",
                s.get(_state("emergency_reason", cid)) or "",
                s.get(_state("emergency_authorised", cid)) or "",
                key=key,
            ),
            "Emergency contact decision recorded.",
        )
    if a["close_case"]:

        def close_fields(errors: dict[str, str]) -> None:
            st.selectbox(
                "Outcome the case closes with",
                ladder.CLOSE_OUTCOMES,
                index=None,
                format_func=_label(ladder.CLOSE_OUTCOME_LABELS),
                placeholder="Choose the outcome",
                key=_state("close_outcome", cid),
            )
            _field_error(errors, "outcome")
            _text("close", cid, "note", "Note", errors)

        _simple_form(
            "close",
            view,
            user,
            "Close the case",
            "Close case",
            close_fields,
            lambda session, key: service.close_case(
                session,
                user,
                cid,
                s.get(_state("close_outcome", cid)) or "",
                s.get(_state("close_note", cid)) or "",
                key=key,
            ),
            "Case closed.",
        )
    if a["correct_entry"] and view.contacts:
        with st.expander("Correct a recorded contact attempt (a new entry; the old one stays)"):
            _correction_form(view, user)
    if a["reopen_case"]:
        _text_form(
            view,
            user,
            ("reopen", "reason", "Why it reopens"),
            ("Reopen the case", "Reopen"),
            service.reopen_case,
            "Case reopened.",
        )


def _correction_form(view: views.CaseView, user: User) -> None:
    cid = view.case_id
    errors = _errors("correct", cid)
    labels = {
        eid: f"{c['contacted_at']:%Y-%m-%d %H:%M} · "
        f"{ladder.CHANNEL_LABELS.get(c['channel'], c['channel'])} · "
        f"{ladder.OUTCOME_LABELS.get(c['outcome'], c['outcome'])}"
        for eid, c in view.contacts.items()
    }
    entry_id = st.selectbox(
        "Contact attempt to correct",
        list(labels),
        format_func=_label(labels),
        key=_state("correct_entry", cid),
    )
    _field_error(errors, "entry_id")
    if entry_id is None:
        return
    old = view.contacts[entry_id]
    slot = f"{cid}_{entry_id}"

    def submit() -> None:
        contact = _entered_contact("correct", slot, old["step"])
        reason = st.session_state.get(_state("correct_reason", slot)) or ""
        key = _content_key("correct", entry_id, user, reason, *contact.__dict__.values())
        _run_action(
            "correct",
            cid,
            user,
            lambda session: service.correct_entry(
                session, user, entry_id, contact, reason, key=key
            ),
            "Correction recorded.",
        )

    channels = list(ladder.channels_for(view.track, old["step"]) or ladder.CHANNELS)
    with st.form(_state("correct_form", slot)):
        _contact_fields("correct", slot, errors, channels, old=old)
        st.text_input(
            "What the correction changes, and why",
            max_chars=500,
            key=_state("correct_reason", slot),
        )
        _field_error(errors, "reason")
        st.form_submit_button(
            "Record the correction", on_click=submit, key=_state("correct_submit", slot)
        )


def case_page(user: User) -> None:
    """The Case page: one case (?case=ID), or the list of the user's cases."""
    flash = st.session_state.pop("case_flash", None)
    if flash:
        st.success(flash)
    raw = (st.query_params.get("case") or "").strip()
    if not raw:
        _case_list(user)
        return
    if not raw.isdigit() or len(raw) > 12:
        st.warning("That case number is not valid.")
        return
    case_id = int(raw)
    with read_scope() as session:
        view = views.case_view(session, user, case_id)
    if view is None:
        st.warning(f"No case {case_id} among the cases you may see.")
        return
    log_view(user, f"case {case_id}", [view.student_id])
    case_header(view)
    st.page_link(
        STUDENT_PAGE, label="Student page (engagement)", query_params={"id": view.student_id}
    )
    if view.actions["record_contact"]:
        message_templates(user, case_id)
        _contact_form(view, user)
    _action_forms(view, user)
    st.subheader(f"History ({len(view.entries)} entries; corrections are new entries)")
    st.dataframe(
        view.entries.drop(columns=["entry"]),
        hide_index=True,
        width="stretch",
        key=_state("history", case_id),
        column_config={"Note": st.column_config.TextColumn(width="large")},
    )


def _case_list(user: User) -> None:
    st.info("Open a case from Home, from a student's page, or pick one below.")
    with read_scope() as session:
        frame = worklists.case_rows(session, user, open_only=True)  # scoped in SQL
    frame = frame[frame["state"] != "closed"].sort_values(["next_due", "case_id"]).head(200)
    if frame.empty:
        st.write("No open cases.")
        return
    log_view(user, "case list", frame["student_id"].tolist())
    for row in frame.itertuples():
        st.page_link(
            CASE_PAGE,
            label=f"Case {row.case_id} · {md(row.student_id)} · {ladder.step_title(int(row.step))}"
            f" · due {row.next_due.date() if pd.notna(row.next_due) else '—'}",
            query_params={"case": str(row.case_id)},
        )


# --- the Student page's case section --------------------------------------------------------------


def student_case_section(user: User, student_id: str) -> None:
    """Cases of this student (tracks the user sees), and opening one from the flag in force."""
    if not visible_tracks(user):
        return
    _follow_opened_case()
    st.subheader("Cases")
    with read_scope() as session:
        frame = views.student_cases(session, user, student_id)
        flag_id = views.open_flag_id(session, student_id)
    if frame is None:
        return
    for row in frame.itertuples():
        state = ladder.STATE_LABELS.get(row.state, row.state)
        label = f"{ladder.TRACK_LABELS[row.track]} case {row.case_id} · {state}"
        if not row.closed:
            label += f" · {ladder.step_title(int(row.step))} · {row.due_words}"
        st.page_link(CASE_PAGE, label=md(label), query_params={"case": str(row.case_id)})
    open_tracks = set(frame.loc[~frame["closed"], "track"]) if not frame.empty else set()
    for track in ladder.TRACKS:
        if track in open_tracks or not can_on_track(user, "open_case", track):
            continue
        open_case_button(user, student_id, track, flag_id, where="student")


def _follow_opened_case() -> None:
    """After an 'open a case' click (its callback ran before this run), go to the case in place."""
    opened = st.session_state.pop("case_opened", None)
    if opened is not None:
        st.switch_page(CASE_PAGE, query_params={"case": str(opened)})


def open_case_button(
    user: User, student_id: str, track: str, flag_id: int | None, where: str
) -> None:
    """A button opening a case (from the flag when there is one) and going to it."""
    name = "open"
    slot = f"{where}_{student_id}_{track}"
    idem = _form_key(name, slot)
    label = "Open a case from the flag" if flag_id else "Open a case"
    if track == "visa":
        label = "Open a visa-team case"

    def click() -> None:
        _run_action(
            name,
            slot,
            user,
            lambda session: service.open_case(
                session, user, student_id, track=track, flag_id=flag_id, key=idem
            ),
            "Case opened.",
        )

    st.button(label, key=_state("open_button", slot), on_click=click)
    errors = _errors(name, slot)
    for message in errors.values():
        st.error(message)


# --- Home worklists -------------------------------------------------------------------------------


def _row_line(row: pd.Series, columns: list[str]) -> str:
    parts = []
    for column in columns:
        value = row.get(column)
        if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
            continue
        label = worklists.LABELS.get(column, column)
        if column == "overdue":
            if value:
                parts.append("**overdue**")
            continue
        parts.append(f"{label}: {md(value)}")
    return " · ".join(parts)


def home_worklist(user: User, data_version: str) -> None:
    """The role's worklist sections, each row linking to the case or the student in place."""
    if not visible_tracks(user):
        return
    _follow_opened_case()
    today = date.today()
    sections = _worklist(data_version, cases_version(), user, today)
    shown: list[str] = []
    for name, frame in sections.items():
        title = worklists.SECTION_TITLES[name]
        with st.container(border=True, key=f"worklist_{name}"):
            st.markdown(f"### {title} ({len(frame)})")
            if frame.empty:
                st.caption("Nothing here.")
                continue
            if name == "per_tutor":
                st.dataframe(
                    frame.rename(
                        columns={
                            "tutor": "Personal tutor",
                            "flagged": "Flagged students",
                            "unanswered": "Flags with no case",
                        }
                    ),
                    hide_index=True,
                    key="worklist_per_tutor_table",
                )
                continue
            page = 0
            pages = -(-len(frame) // ROWS_PER_SECTION)
            if pages > 1:
                page = (
                    int(
                        st.number_input(
                            f"Page (of {pages})",
                            min_value=1,
                            max_value=pages,
                            value=1,
                            key=f"worklist_{name}_page",
                        )
                    )
                    - 1
                )
            rows = frame.iloc[page * ROWS_PER_SECTION : (page + 1) * ROWS_PER_SECTION]
            shown += rows["student_id"].tolist()
            for row in rows.to_dict("records"):
                _worklist_row(user, name, row)
    log_view(user, "home worklist", shown)


def _worklist_row(user: User, section: str, row: dict) -> None:
    sid = row["student_id"]
    head = f"**{md(row.get('name') or '')}** ({md(sid)})"
    hidden = ("case_id", "student_id", "name", "why", "recovery", "flag_id")
    columns = [c for c in row if c not in hidden]
    left, right = st.columns([5, 1])
    left.markdown(head + " — " + _row_line(pd.Series(row), columns))
    explanation = row.get("why") or row.get("recovery")
    if isinstance(explanation, str) and explanation:
        left.caption(md(explanation))  # wraps: no horizontal scrolling
    with right:
        if "case_id" in row and pd.notna(row["case_id"]):
            st.page_link(
                CASE_PAGE, label="Open case", query_params={"case": str(int(row["case_id"]))}
            )
        else:
            st.page_link(STUDENT_PAGE, label="Student", query_params={"id": str(sid)})
            track = "visa" if user.role == "visa" else "welfare"
            if can_on_track(user, "open_case", track):
                flag_id = row.get("flag_id")
                flag_id = int(flag_id) if flag_id is not None and pd.notna(flag_id) else None
                open_case_button(user, sid, track, flag_id, where=f"home_{section}")

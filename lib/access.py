"""The access policy: for a user, which pages, which students, which fields and which actions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, false, select, true
from sqlalchemy.orm import Session

from lib.store.models import StaffUser, Student

ROLES = ("tutor", "senior_tutor", "wellbeing", "visa", "admin")


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: key, title, script path and URL path."""

    key: str
    title: str
    path: str
    url_path: str
    icon: str


# The page scripts live in app_pages/, not pages/: a folder named pages/ beside Home.py makes
# Streamlit run the first session after a server start in the old directory-based multipage mode,
# which answers a deep link such as /cohort with "Page not found" and drops it.
PAGES: dict[str, PageSpec] = {
    p.key: p
    for p in (
        PageSpec("home", "Home", "app_pages/home_page.py", "home", "🏠"),
        PageSpec("cohort", "Cohort", "app_pages/cohort_page.py", "cohort", "👥"),
        PageSpec("student", "Student", "app_pages/student_page.py", "student", "👤"),
        PageSpec("data", "Data", "app_pages/data_page.py", "data", "🗄️"),
        PageSpec("case", "Cases", "app_pages/case_page.py", "case", "🗂️"),  # cases wing
        PageSpec(
            "access_log",
            "Access log",
            "app_pages/access_log_page.py",
            "access-log",
            "📜",
        ),
        PageSpec(
            "compliance",
            "Visa compliance",
            "app_pages/compliance_page.py",
            "compliance",
            ":material/verified_user:",
        ),
        PageSpec(
            "withdrawal_review",
            "Assumed-withdrawal review",
            "app_pages/withdrawal_review_page.py",
            "withdrawal-review",
            ":material/fact_check:",
        ),
        PageSpec(
            "subject_access",
            "Subject access requests",
            "app_pages/subject_access_page.py",
            "subject-access",
            ":material/folder_zip:",
        ),
    )
}

STUDENT_ROLES = ("tutor", "senior_tutor", "wellbeing", "visa")

ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "tutor": ("home", "cohort", "student", "case"),
    "senior_tutor": ("home", "cohort", "student", "case", "withdrawal_review"),
    "wellbeing": ("home", "cohort", "student", "case", "withdrawal_review", "subject_access"),
    "visa": ("home", "cohort", "student", "case", "compliance"),
    "admin": ("home", "data", "access_log"),
}

ACTIONS: dict[str, tuple[str, ...]] = {
    "view_student": STUDENT_ROLES,
    "search_students": STUDENT_ROLES,
    "export_csv": STUDENT_ROLES,
    "add_exemption": ("senior_tutor", "wellbeing"),
    "view_welfare_notes": ("tutor", "senior_tutor", "wellbeing"),
    "view_contact_details": STUDENT_ROLES,
    "view_data_quality": ROLES,
    "upload_data": ("admin",),
    "edit_thresholds": ("admin",),
    "edit_calendar": ("admin",),
    "manage_users": ("admin",),
    "view_access_log": ("admin",),
    # --- cases wing (SPEC §5); the track rule below narrows each action per track
    "view_case": STUDENT_ROLES,
    "open_case": STUDENT_ROLES,
    "record_contact": STUDENT_ROLES,
    "correct_entry": STUDENT_ROLES,
    "handover": ("tutor", "senior_tutor", "wellbeing"),
    "refer": ("wellbeing",),
    "emergency_decision": ("wellbeing",),
    "close_case": STUDENT_ROLES,
    "reopen_case": STUDENT_ROLES,
    # --- mail wing: e-mail to a student from a case; the weekly digest of one's own students
    "send_email": STUDENT_ROLES,
    "receive_digest": STUDENT_ROLES,
    "view_contact_impact": ("senior_tutor", "wellbeing"),
    # compliance wing
    "view_compliance": ("visa",),
    "record_compliance_report": ("visa",),
    "export_compliance": ("visa",),
    "review_withdrawal": ("senior_tutor", "wellbeing"),
    "handle_sar": ("wellbeing",),
}

# Which roles see and work which case track: the visa team works only its own track and never
# sees the welfare track (welfare information, SPEC §2); wellbeing and senior tutors see both;
# tutors see their tutees' cases on both tracks but record only on the welfare track.
TRACK_VIEW_ROLES: dict[str, tuple[str, ...]] = {
    "welfare": ("tutor", "senior_tutor", "wellbeing"),
    "visa": ("tutor", "senior_tutor", "wellbeing", "visa"),
}
TRACK_WORK_ROLES: dict[str, tuple[str, ...]] = {
    "welfare": ("tutor", "senior_tutor", "wellbeing"),
    "visa": ("visa",),
}

PROFILE_FIELDS = (
    "student_id",
    "given_name",
    "family_name",
    "email",
    "course_code",
    "course_name",
    "school",
    "level",
    "year_of_study",
    "mode",
    "tutor_username",
    "visa_sponsored",
    "residence",
    "status",
    "start_date",
)
CONTACT_FIELDS = ("personal_email", "phone")


@dataclass(frozen=True)
class User:
    """A logged-in member of staff as the policy sees them."""

    username: str
    role: str
    display_name: str = ""
    school: str | None = None
    years: tuple[int, ...] = ()
    email: str | None = None

    @classmethod
    def from_staff(cls, staff: StaffUser) -> User:
        years = tuple(int(y) for y in (staff.years or "").split(",") if y.strip())
        return cls(
            username=staff.username,
            role=staff.role,
            display_name=staff.display_name or staff.username,
            school=staff.school,
            years=years,
            email=staff.email,
        )

    @property
    def scope_key(self) -> tuple:
        """A hashable key of everything that decides this user's student scope (for caches)."""
        return (self.role, self.username, self.school, self.years)


def pages_for(user: User | None) -> tuple[str, ...]:
    """The page keys this user's navigation offers (none when not logged in or unknown role)."""
    if user is None:
        return ()
    return ROLE_PAGES.get(user.role, ())


def can_open(user: User | None, page: str) -> bool:
    """Whether the user's navigation has this page."""
    return page in pages_for(user)


def can(user: User | None, action: str) -> bool:
    """Whether the user may perform an action (unknown actions are denied)."""
    return user is not None and user.role in ACTIONS.get(action, ())


def can_on_track(user: User | None, action: str, track: str) -> bool:
    """Whether the user may perform a case action on a case of this track (`view_case` needs the
    track's view roles, every other case action its work roles)."""
    if not can(user, action):
        return False
    roles = TRACK_VIEW_ROLES if action == "view_case" else TRACK_WORK_ROLES
    return user.role in roles.get(track, ())


def visible_tracks(user: User | None) -> tuple[str, ...]:
    """The case tracks this user may see."""
    return tuple(t for t in TRACK_VIEW_ROLES if can_on_track(user, "view_case", t))


class NotAllowed(PermissionError):
    """The user's role does not allow the action (raised where the action happens)."""


def require(user: User | None, action: str) -> None:
    """Raise NotAllowed unless the user may perform the action (unknown actions are refused too)."""
    if action not in ACTIONS:
        raise NotAllowed(f"unknown action {action!r}")
    if not can(user, action):
        who = user.role.replace("_", " ") if user else "nobody logged in"
        raise NotAllowed(f"{who} may not {action.replace('_', ' ')}")


def fields_for(user: User | None) -> tuple[str, ...]:
    """The student fields this user may see (none for admin)."""
    if user is None or user.role not in STUDENT_ROLES:
        return ()
    fields = PROFILE_FIELDS + (CONTACT_FIELDS if can(user, "view_contact_details") else ())
    if can_see_welfare(user):
        fields += ("welfare_notes",)
    return fields


# --- welfare information (SPEC §2): one rule, asked by every page, table, chart, export and e-mail ---

# Columns that carry welfare information wherever they appear: notes of contacts and cases, the
# reason of an authorised absence, referrals and emergency-contact decisions.
WELFARE_COLUMNS = frozenset(
    {"note", "notes", "reason", "referral_team", "authorised_by", "next_action", "welfare_notes"}
)
# Case states a role without welfare information may see; any other state reads as "open".
PUBLIC_CASE_STATES = ("open", "closed")
AUTHORISED_ABSENCE = "authorised absence"


def can_see_welfare(user: User | None) -> bool:
    """Whether the user may see welfare information (SPEC §2): notes, reasons, referrals, decisions."""
    return can(user, "view_welfare_notes")


def without_welfare(user: User | None, frame):
    """The frame as this user may see it: welfare columns dropped, case states reduced to open/closed
    for a role without welfare information (returned unchanged for a role with it)."""
    if can_see_welfare(user):
        return frame
    frame = frame.drop(columns=[c for c in frame.columns if c in WELFARE_COLUMNS])
    if "state" in frame.columns:
        frame = frame.assign(state=frame["state"].map(public_case_state))
    return frame


def public_case_state(state: str | None) -> str | None:
    """A case state as a role without welfare information sees it (open or closed)."""
    if not isinstance(state, str) or state in PUBLIC_CASE_STATES:
        return state
    return "open"


def student_filter(user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on `students` selecting exactly the students this user may see."""
    if user is None or user.role not in STUDENT_ROLES:
        return false()
    if user.role == "tutor":
        return Student.tutor_username == user.username
    if user.role == "senior_tutor":
        if not user.school:
            return false()
        clause = Student.school == user.school
        if user.years:
            clause = and_(clause, Student.year_of_study.in_(user.years))
        return clause
    if user.role == "visa":
        return Student.visa_sponsored.is_(True)
    return true()  # wellbeing: all students


def scoped_student_ids(user: User | None) -> Select:
    """SELECT of the student ids in the user's scope (use with `.in_()` or as a subquery)."""
    return select(Student.student_id).where(student_filter(user))


def can_view_student(session: Session, user: User | None, student_id: str | None) -> bool:
    """Whether this user may see this student's data."""
    if not student_id or not can(user, "view_student"):
        return False
    found = session.scalar(
        select(Student.student_id).where(Student.student_id == student_id, student_filter(user))
    )
    return found is not None


def scope_description(user: User) -> str:
    """Plain words for which students the user sees."""
    if user.role == "tutor":
        return "your personal tutees"
    if user.role == "senior_tutor":
        years = f", year {', '.join(map(str, user.years))}" if user.years else ""
        return f"students of {user.school}{years}"
    if user.role == "visa":
        return "students on a sponsored Student visa"
    if user.role == "wellbeing":
        return "all students"
    return "no individual students (aggregate data quality only)"

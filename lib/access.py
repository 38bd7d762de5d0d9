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
        PageSpec("home", "Home", "app_pages/home_page.py", "home", ":material/home:"),
        PageSpec("cohort", "Cohort", "app_pages/cohort_page.py", "cohort", ":material/groups:"),
        PageSpec("student", "Student", "app_pages/student_page.py", "student", ":material/person:"),
        PageSpec("data", "Data", "app_pages/data_page.py", "data", ":material/database:"),
        PageSpec(
            "access_log",
            "Access log",
            "app_pages/access_log_page.py",
            "access-log",
            ":material/policy:",
        ),
    )
}

STUDENT_ROLES = ("tutor", "senior_tutor", "wellbeing", "visa")

ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "tutor": ("home", "cohort", "student"),
    "senior_tutor": ("home", "cohort", "student"),
    "wellbeing": ("home", "cohort", "student"),
    "visa": ("home", "cohort", "student"),
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


def fields_for(user: User | None) -> tuple[str, ...]:
    """The student fields this user may see (none for admin)."""
    if user is None or user.role not in STUDENT_ROLES:
        return ()
    fields = PROFILE_FIELDS + (CONTACT_FIELDS if can(user, "view_contact_details") else ())
    if can(user, "view_welfare_notes"):
        fields += ("welfare_notes",)
    return fields


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

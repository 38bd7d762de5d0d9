"""Synthetic schools, courses, modules, students, staff and module enrolments for the demo data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.demo.term_calendar import academic_calendar

EMAIL_DOMAIN = "uni.example.ac.uk"

# code, school name, module prefix, home building, module topics
SCHOOLS: list[tuple[str, str, str, list[str]]] = [
    (
        "Computer Science",
        "COMP",
        "CSB",
        [
            "Programming",
            "Algorithms",
            "Databases",
            "Software Engineering",
            "Operating Systems",
            "Machine Learning",
            "Computer Networks",
            "Computer Security",
            "Human-Computer Interaction",
            "Compilers",
        ],
    ),
    (
        "Engineering",
        "ENGI",
        "ENG",
        [
            "Mechanics",
            "Thermodynamics",
            "Electronics",
            "Materials",
            "Control Systems",
            "Fluid Dynamics",
            "Structures",
            "Engineering Mathematics",
            "Design",
            "Signals",
        ],
    ),
    (
        "Business",
        "BUSI",
        "NBS",
        [
            "Management",
            "Accounting",
            "Marketing",
            "Finance",
            "Economics",
            "Operations",
            "Strategy",
            "Organisational Behaviour",
            "Business Analytics",
            "Entrepreneurship",
        ],
    ),
    (
        "History",
        "HIST",
        "TRT",
        [
            "Medieval Europe",
            "Early Modern Britain",
            "The Atlantic World",
            "Empire and Decolonisation",
            "Modern China",
            "The Cold War",
            "Historiography",
            "Social History",
            "Public History",
            "Revolutions",
        ],
    ),
    (
        "Life Sciences",
        "LIFE",
        "LSB",
        [
            "Cell Biology",
            "Genetics",
            "Biochemistry",
            "Ecology",
            "Microbiology",
            "Physiology",
            "Immunology",
            "Evolution",
            "Molecular Biology",
            "Neuroscience",
        ],
    ),
    (
        "Law",
        "LAWS",
        "LAW",
        [
            "Contract Law",
            "Criminal Law",
            "Public Law",
            "Tort Law",
            "Land Law",
            "Equity and Trusts",
            "EU Law",
            "Jurisprudence",
            "Company Law",
            "International Law",
        ],
    ),
]
SHARED_BUILDING = "MPB"

# school index, course code, course name, level, years
COURSES: list[tuple[int, str, str, str, int]] = [
    (0, "G400", "BSc Computer Science", "UG", 3),
    (0, "G401", "MSci Computer Science", "UG", 4),
    (0, "G650", "BSc Software Engineering", "UG", 3),
    (0, "G4AI", "MSc Artificial Intelligence", "PGT", 1),
    (0, "G4DS", "MSc Data Science", "PGT", 1),
    (1, "H300", "MEng Mechanical Engineering", "UG", 4),
    (1, "H600", "BEng Electrical and Electronic Engineering", "UG", 3),
    (1, "H200", "BEng Civil Engineering", "UG", 3),
    (1, "H3AE", "MSc Advanced Engineering", "PGT", 1),
    (2, "N100", "BA Management", "UG", 3),
    (2, "N400", "BSc Finance, Accounting and Management", "UG", 3),
    (2, "N2BA", "MSc Business Analytics", "PGT", 1),
    (2, "N2IM", "MSc International Management", "PGT", 1),
    (3, "V100", "BA History", "UG", 3),
    (3, "V1T7", "BA History and American Studies", "UG", 3),
    (3, "V1MA", "MA Modern History", "PGT", 1),
    (4, "C100", "BSc Biology", "UG", 3),
    (4, "C101", "MSci Biology", "UG", 4),
    (4, "C700", "BSc Biochemistry", "UG", 3),
    (4, "C1MM", "MSc Molecular Medicine", "PGT", 1),
    (5, "M100", "LLB Law", "UG", 3),
    (5, "M1R1", "LLB Law with French and French Law", "UG", 4),
    (5, "M1LM", "LLM International Commercial Law", "PGT", 1),
]

GIVEN = (
    "Oliver Amelia George Isla Harry Ava Noah Mia Jack Ivy Leo Freya Arthur Lily Muhammad Florence Oscar Emily "
    "Charlie Grace Jacob Sophie Thomas Evie Henry Ella Alfie Poppy Theo Chloe Joshua Ruby William Daisy James Alice "
    "Samuel Hannah Aarav Priya Arjun Ananya Rohan Aisha Omar Fatima Yusuf Zainab Ibrahim Maryam Wei Mei Jun Xin "
    "Hao Yan Hiroshi Yuki Kenji Sakura Min-jun Ji-woo Seo-yeon Chinedu Ngozi Kwame Abena Tunde Amara Kofi Adaeze "
    "Mateo Sofia Lucas Camila Diego Valentina Luca Giulia Marco Chiara Pierre Camille Louis Chloé Felix Hanna "
    "Jonas Lena Mikhail Anastasia Dmitri Olga Piotr Zofia Siobhan Ciaran Niamh Rhys Cerys Dylan Megan Callum Eilidh "
    "Ewan Kirsty Tariq Leila Nikhil Divya Sanjay Kavya Ravi Meera"
).split()
FAMILY = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker "
    "White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris "
    "Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young "
    "Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan "
    "Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali "
    "Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher "
    "Stevens Jenkins Murray Dixon Harvey Chen Wang Li Zhang Liu Nguyen Tanaka Sato Kim Park Okafor Adeyemi Mensah "
    "Osei Rossi Garcia Fernandez Muller Schmidt Dubois Kowalski Novak Ivanov O'Brien MacDonald Sharma Gupta Iyer"
).split()
STAFF_GIVEN = "Alan Beth Carol David Elaine Frank Gillian Hugh Irene Jane Keith Linda Martin Nadia Owen Paula Rachel Simon Tessa Victor".split()
STAFF_FAMILY = "Jones Ahmed Brennan Clarke Dawson Eastwood Fairbanks Gordon Hargreaves Iqbal Jennings Kapoor Lambert Moreno Nash Ogunleye Pearce Quinn Russo Sutherland Thornton Underwood Vaughan Whitaker Yates".split()


@dataclass
class Population:
    """Everything about people and modules that later stages need, as aligned arrays."""

    students: (
        pd.DataFrame
    )  # canonical students.csv columns plus helper columns (see make_population)
    staff: pd.DataFrame  # canonical staff.csv columns
    modules: pd.DataFrame  # module_code, module_name, school_idx, level_key, building, leader
    student_modules: np.ndarray  # (n_students, 6) module index, -1 padded
    n_modules_taken: np.ndarray  # (n_students,)


def _slug(s: pd.Series) -> pd.Series:
    return (
        s.str.lower()
        .str.normalize("NFKD")
        .str.encode("ascii", "ignore")
        .str.decode("ascii")
        .str.replace(r"[^a-z\-]", "", regex=True)
    )


def _unique_suffix(keys: pd.Series) -> pd.Series:
    """'' for the first occurrence of a key, then '2', '3', ... (order of appearance)."""
    n = keys.groupby(keys, sort=False).cumcount()
    return n.map(lambda k: "" if k == 0 else str(k + 1))


def make_population(rng: np.random.Generator, n: int, year: int) -> Population:
    """Draw `n` students of academic year `year`, their staff and their module enrolments."""
    courses = pd.DataFrame(
        COURSES, columns=["school_idx", "course_code", "course_name", "level", "years"]
    )
    # --- modules: per school, UG years 1-4 and a PGT level -------------------------------------
    mod_rows = []
    for s, (_, prefix, _building, topics) in enumerate(SCHOOLS):
        for level_key in ("1", "2", "3", "4", "P"):
            count = 6 if level_key == "4" else 8
            for j in range(count):
                digit = "4" if level_key == "P" else level_key
                number = (100 if level_key == "P" else 0) + j + 1
                topic = topics[(j + int(digit) * 3) % len(topics)]
                suffix = {
                    "1": "Foundations of",
                    "2": "Intermediate",
                    "3": "Advanced",
                    "4": "Research Topics in",
                    "P": "Graduate Studies in",
                }[level_key]
                mod_rows.append((f"{prefix}{digit}{number:03d}", f"{suffix} {topic}", s, level_key))
    modules = pd.DataFrame(
        mod_rows, columns=["module_code", "module_name", "school_idx", "level_key"]
    )
    home = np.array([SCHOOLS[s][2] for s in modules["school_idx"]])
    modules["building"] = np.where(rng.random(len(modules)) < 0.3, SHARED_BUILDING, home)

    # --- students -----------------------------------------------------------------------------
    is_pgt = rng.random(n) < 0.22
    course_idx = np.empty(n, dtype=np.int64)
    ug_courses = np.flatnonzero(courses["level"].to_numpy() == "UG")
    pg_courses = np.flatnonzero(courses["level"].to_numpy() == "PGT")
    course_idx[~is_pgt] = rng.choice(ug_courses, (~is_pgt).sum())
    course_idx[is_pgt] = rng.choice(pg_courses, is_pgt.sum())
    c = courses.iloc[course_idx].reset_index(drop=True)
    years = c["years"].to_numpy()
    u = rng.random(n)
    yos = np.where(
        years == 1,
        1,
        np.where(years == 3, 1 + (u > 0.36) + (u > 0.69), 1 + (u > 0.3) + (u > 0.55) + (u > 0.78)),
    )
    yos = yos.astype(int)
    pt = rng.random(n) < np.where(is_pgt, 0.3, 0.07)
    visa = rng.random(n) < np.where(is_pgt, 0.45, 0.13)
    campus = rng.random(n) < np.where(is_pgt, 0.3, np.where(yos == 1, 0.8, 0.08))
    campus &= ~(pt & (rng.random(n) < 0.8))
    entry = year - (yos - 1)

    combos = len(GIVEN) * len(FAMILY)
    pick = rng.choice(combos, n, replace=n > combos)
    given = pd.Series(np.array(GIVEN)[pick // len(FAMILY)])
    family = pd.Series(np.array(FAMILY)[pick % len(FAMILY)])
    local = _slug(given) + "." + _slug(family)
    email = local + _unique_suffix(local) + "@" + EMAIL_DOMAIN
    personal_local = (
        _slug(given) + _slug(family).str[:1] + pd.Series(rng.integers(10, 100, n)).astype(str)
    )
    personal = personal_local + _unique_suffix(personal_local) + "@example.com"
    phone_n = rng.permutation(1000)[np.arange(n) % 1000] if n <= 1000 else rng.integers(0, 1000, n)
    phone = pd.Series(phone_n).map(lambda k: f"07700 900{k:03d}")

    # 8-digit ids: two digits of the entry year then six unique digits within that entry year.
    sid = np.empty(n, dtype=np.int64)
    for e in np.unique(entry):
        idx = np.flatnonzero(entry == e)
        sid[idx] = (e % 100) * 1_000_000 + rng.choice(1_000_000, len(idx), replace=False)
    start = {e: academic_calendar(int(e)).teaching_mondays[0].isoformat() for e in np.unique(entry)}

    students = pd.DataFrame(
        {
            "student_id": sid.astype(str),
            "given_name": given,
            "family_name": family,
            "email": email,
            "personal_email": personal,
            "phone": phone,
            "course_code": c["course_code"],
            "course_name": c["course_name"],
            "school": [SCHOOLS[s][0] for s in c["school_idx"]],
            "level": c["level"],
            "year_of_study": yos,
            "mode": np.where(pt, "PT", "FT"),
            "tutor_username": "",
            "visa_sponsored": np.where(visa, "yes", "no"),
            "residence": np.where(campus, "on_campus", "off_campus"),
            "status": "enrolled",
            "start_date": [start[e] for e in entry],
            "school_idx": c["school_idx"].to_numpy(),
            "level_key": np.where(is_pgt, "P", yos.astype(str)),
        }
    )
    students = students.sort_values("student_id", kind="stable").reset_index(drop=True)
    n_s = len(students)

    # --- staff: tutors per school (15-30 tutees each), senior tutors, central roles ----------
    staff_rows: list[tuple[str, str, str, str, str]] = []
    used: dict[str, int] = {}

    def new_staff(role: str, school: str) -> str:
        g = STAFF_GIVEN[int(rng.integers(len(STAFF_GIVEN)))]
        f = STAFF_FAMILY[int(rng.integers(len(STAFF_FAMILY)))]
        base = f"{g[0]}.{f}".lower()
        used[base] = used.get(base, 0) + 1
        user = base if used[base] == 1 else f"{base}{used[base]}"
        staff_rows.append((user, f"{g} {f}", f"{user}@{EMAIL_DOMAIN}", role, school))
        return user

    tutor = np.empty(n_s, dtype=object)
    school_tutors: list[list[str]] = []
    for s, (sname, *_rest) in enumerate(SCHOOLS):
        idx = np.flatnonzero(students["school_idx"].to_numpy() == s)
        k = max(1, int(round(len(idx) / 22)))
        names = [new_staff("tutor", sname) for _ in range(k)]
        school_tutors.append(names)
        perm = rng.permutation(idx)
        for j, i in enumerate(perm):
            tutor[i] = names[j % k]
    for sname, *_rest in SCHOOLS:
        new_staff("senior_tutor", sname)
    for role in ("wellbeing", "visa", "admin"):
        new_staff(role, "")
    students["tutor_username"] = tutor
    staff = pd.DataFrame(
        staff_rows, columns=["username", "display_name", "email", "role", "school"]
    )
    modules["leader"] = [
        school_tutors[s][j % len(school_tutors[s])] for j, s in enumerate(modules["school_idx"])
    ]

    # --- module enrolments: FT 4-6, PT 2-3 modules of own school and level --------------------
    key = modules["school_idx"].astype(str) + ":" + modules["level_key"]
    groups = {k: np.flatnonzero(key.to_numpy() == k) for k in pd.unique(key)}
    skey = (students["school_idx"].astype(str) + ":" + students["level_key"]).to_numpy()
    pt_mask = students["mode"].to_numpy() == "PT"
    k_take = np.where(pt_mask, rng.integers(2, 4, n_s), rng.integers(4, 7, n_s))
    mods = np.full((n_s, 6), -1, dtype=np.int64)
    for k, pool in groups.items():
        idx = np.flatnonzero(skey == k)
        if len(idx) == 0:
            continue
        order = np.argsort(rng.random((len(idx), len(pool))), axis=1)
        take = np.minimum(k_take[idx], len(pool))
        k_take[idx] = take
        chosen = pool[order[:, :6]]
        chosen[np.arange(6)[None, :] >= take[:, None]] = -1
        mods[idx] = chosen
    return Population(students, staff, modules, mods, k_take)

"""Deterministic fake people for the sandbox's seed data.

Stdlib only (no Faker): the same ``random_seed`` must give the same people on every machine
and every Faker release, and 50,000 people must be ready in well under a second so tests
and benchmarks can start the sandbox in-process. Names mix accents and scripts on purpose
(Zoë, José, Łukasz, Nguyễn) because lookups, CSV round trips and case folding break there.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

FIRST_NAMES: tuple[str, ...] = (
    "Zoë", "José", "Łukasz", "Chloé", "Søren", "Björn", "Ángel", "Inès", "François", "Siobhán",
    "Renée", "Nuño", "Ana", "Olivia", "Liam", "Noah", "Emma", "Mia", "Lucas", "Sofia", "Mateo",
    "Amelia", "Hiroshi", "Yuki", "Wei", "Priya", "Arjun", "Aisha", "Omar", "Fatima", "Kwame",
    "Ngozi", "Thabo", "Lerato", "Giulia", "Matteo", "Élodie", "Zoltán", "Dorota", "Ivana",
    "Jürgen", "Ingrid", "Åsa", "Mikael", "Oğuz", "Ayşe", "Đức", "Mai", "Seo-yeon", "Min-jun",
    "Małgorzata", "Bartłomiej", "Grégoire", "Jesús", "María José", "Anne-Sophie", "Jean-Luc",
    "Pádraig", "Niamh", "Eoghan", "Øystein", "Tomás", "Beatriz", "João", "Conceição", "Kofi",
    "Ama", "Chidi", "Sipho", "Naledi", "Ravi", "Ananya", "Mohammed", "Layla", "Sven", "Freya",
    "Dmitri", "Олена", "Sarah", "David", "James", "Emily", "Grace", "Daniel", "Hannah", "Leo",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "García", "Müller", "Nowak", "Kowalski", "Dubois", "O'Brien", "Núñez", "Sørensen",
    "Johansson", "Rossi", "Bianchi", "Tanaka", "Suzuki", "Chen", "Wang", "Patel", "Sharma",
    "Okafor", "Mensah", "Nkosi", "Silva", "Santos", "Kim", "Park", "Nguyễn", "Öztürk", "Yılmaz",  # noqa: RUF001
    "van der Berg", "de la Cruz", "Ní Bhriain", "Łącki", "Dvořák", "Horváth", "Papadopoulos",
    "Ivanova", "Schmidt", "Fischer", "Hernández", "López", "Brzęczyszczykiewicz", "Åberg",
    "Lefèvre", "Gonçalves", "Mbeki", "Adeyemi", "Kaur", "Singh", "Haddad", "Al-Farsi", "Jones",
    "Taylor", "Brown", "Wilson", "Martin", "Lee", "Thompson", "White", "Harris", "Clarke",
    "MacDonald", "Fitzgerald", "Zieliński", "Wiśniewska", "Jørgensen", "Ødegård", "Coração",
)  # fmt: skip

DEPARTMENTS: tuple[str, ...] = (
    "Engineering", "Sales", "Marketing", "Finance", "People & Culture", "Customer Success",
    "Operations", "Legal", "Product", "Design", "IT", "Facilities", "R&D",
)  # fmt: skip

TITLES: dict[str, tuple[str, ...]] = {
    "Engineering": ("Software Engineer", "Senior Software Engineer", "Engineering Manager"),
    "Sales": ("Account Executive", "Sales Development Rep", "Head of Sales"),
    "Marketing": ("Content Marketer", "Growth Lead", "Brand Designer"),
    "Finance": ("Accountant", "Financial Analyst", "CFO"),
    "People & Culture": ("HR Business Partner", "Recruiter", "Head of People"),
    "Customer Success": ("Customer Success Manager", "Support Specialist"),
    "Operations": ("Operations Analyst", "Office Manager", "COO"),
    "Legal": ("Legal Counsel", "Paralegal"),
    "Product": ("Product Manager", "Product Owner"),
    "Design": ("Product Designer", "UX Researcher"),
    "IT": ("IT Administrator", "Service Desk Analyst"),
    "Facilities": ("Facilities Coordinator",),
    "R&D": ("Research Scientist", "Lab Technician"),
}


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    calling_code: str
    timezone: str
    cities: tuple[str, ...]
    domain: str


COUNTRIES: tuple[Country, ...] = (
    Country("US", "1", "America/Chicago", ("Chicago", "New York", "Austin"), "example.com"),
    Country("GB", "44", "Europe/London", ("London", "Manchester"), "example.co.uk"),
    Country("DE", "49", "Europe/Berlin", ("München", "Berlin", "Köln"), "beispiel.de"),
    Country("FR", "33", "Europe/Paris", ("Paris", "Lyon"), "exemple.fr"),
    Country("ES", "34", "Europe/Madrid", ("Madrid", "A Coruña"), "ejemplo.es"),
    Country("PL", "48", "Europe/Warsaw", ("Kraków", "Łódź", "Warszawa"), "przyklad.pl"),
    Country("SE", "46", "Europe/Stockholm", ("Stockholm", "Malmö"), "exempel.se"),
    Country("DK", "45", "Europe/Copenhagen", ("København", "Aarhus"), "eksempel.dk"),
    Country("IT", "39", "Europe/Rome", ("Milano", "Roma"), "esempio.it"),
    Country("JP", "81", "Asia/Tokyo", ("Tokyo", "Ōsaka"), "example.jp"),
    Country("IN", "91", "Asia/Kolkata", ("Bengaluru", "Pune"), "example.in"),
    Country("NG", "234", "Africa/Lagos", ("Lagos", "Abuja"), "example.ng"),
    Country("ZA", "27", "Africa/Johannesburg", ("Cape Town", "Johannesburg"), "example.co.za"),
    Country("BR", "55", "America/Sao_Paulo", ("São Paulo", "Florianópolis"), "exemplo.com.br"),
    Country("AU", "61", "Australia/Brisbane", ("Brisbane", "Sydney"), "example.com.au"),
    Country("VN", "84", "Asia/Ho_Chi_Minh", ("Hà Nội", "Đà Nẵng"), "example.vn"),
    Country("TR", "90", "Europe/Istanbul", ("İstanbul", "Ankara"), "example.com.tr"),
    Country("IE", "353", "Europe/Dublin", ("Dublin", "Cork"), "example.ie"),
)

# Letters NFKD does not decompose into ASCII, for building plausible email local parts
# (the escapes are dotless i and the Cyrillic letters of "Олена").
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
     "\u0131": "i", "'": "", " ": "", "-": "", "\u041e": "O", "\u043b": "l", "\u0435": "e",
     "\u043d": "n", "\u0430": "a"}
)  # fmt: skip

SEED_EPOCH = datetime(2019, 1, 1, tzinfo=UTC)
SEED_SPAN = timedelta(days=6 * 365)


@dataclass(frozen=True, slots=True)
class Person:
    """One fake employee; each provider's seed turns it into its own record shape."""

    index: int
    first_name: str
    last_name: str
    email: str
    country: Country
    mobile: str  # national number, digits only
    department: str
    title: str
    location: str
    employee_id: str
    created_at: datetime  # ascending with ``index``
    hire_date: date
    birthday: date | None
    active: bool


def ascii_fold(text: str) -> str:
    """Return ``text`` as lower-case ASCII letters and digits, for email local parts."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).lower()


def people(random_seed: int, count: int) -> list[Person]:
    """Return ``count`` people, the same ones for the same ``random_seed``.

    Emails are unique case-insensitively (both providers require it); creation times
    ascend with the index so "newest first" orders are well defined.
    """
    rng = random.Random(f"people:{random_seed}")
    seen: set[str] = set()
    result: list[Person] = []
    step = SEED_SPAN / max(count, 1)
    for index in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        country = rng.choice(COUNTRIES)
        local = f"{ascii_fold(first) or 'user'}.{ascii_fold(last) or 'person'}"
        email = f"{local}@{country.domain}"
        if email in seen:
            email = f"{local}{index}@{country.domain}"
        seen.add(email)
        department = rng.choice(DEPARTMENTS)
        created = SEED_EPOCH + step * index + timedelta(seconds=rng.randrange(60))
        hired = (created - timedelta(days=rng.randrange(0, 3000))).date()
        born = date(rng.randrange(1960, 2004), rng.randrange(1, 13), rng.randrange(1, 29))
        result.append(
            Person(
                index=index,
                first_name=first,
                last_name=last,
                email=email,
                country=country,
                mobile=str(rng.randrange(200_000_000, 999_999_999)),
                department=department,
                title=rng.choice(TITLES[department]),
                location=rng.choice(country.cities),
                employee_id=f"E{100000 + index}",
                created_at=created,
                hire_date=hired,
                birthday=born if rng.random() < 0.7 else None,
                active=rng.random() < 0.93,
            )
        )
    return result

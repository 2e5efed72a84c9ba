"""Detect personal data in a bounded sample of each text column of a table version.

Libraries chosen (both offline, both well kept): ``phonenumbers`` (Google's libphonenumber
metadata) says whether a value is a possible phone number; ``python-stdnum`` checks payment
cards (Luhn), IBANs (mod 97) and national ids (US SSN, French NIR, Spanish DNI, Italian codice
fiscale, Belgian national number, Dutch BSN) with their checksums. Email addresses are a plain
pattern: a library would only add DNS lookups, which a scan must never make.

Values stay in this function: only how many of them matched which detector leaves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sqlglot import exp

from orchestration.warehouse import Warehouse
from orchestration.warehouse.statements import Dialect, Statements
from policies.naming import parse_table_ref
from policies.pii import SAMPLE_SIZE, Finding, PiiType, classify

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_CARDISH = re.compile(r"^[0-9][0-9 -]{11,22}[0-9]$")
_TEXT_TYPES = ("VARCHAR", "STRING", "TEXT", "CHAR")


def _is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def _is_phone(value: str) -> bool:
    import phonenumbers

    if sum(ch.isdigit() for ch in value) < 7 or not re.fullmatch(r"[+0-9 ().-]+", value):
        return False
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def _is_card(value: str) -> bool:
    from stdnum import luhn

    digits = re.sub(r"[ -]", "", value)
    return bool(_CARDISH.match(value)) and 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _is_iban(value: str) -> bool:
    from stdnum import iban

    return len(value) >= 15 and value[:2].isalpha() and iban.is_valid(value)


def _is_national_id(value: str) -> bool:
    from stdnum.be import nn
    from stdnum.es import dni
    from stdnum.fr import nir
    from stdnum.it import codicefiscale
    from stdnum.nl import bsn
    from stdnum.us import ssn

    if not any(ch.isdigit() for ch in value):
        return False
    return any(m.is_valid(value) for m in (ssn, nir, dni, codicefiscale, nn, bsn))


DETECTORS: tuple[tuple[PiiType, Callable[[str], bool]], ...] = (
    (PiiType.EMAIL, _is_email),
    (PiiType.PAYMENT_CARD, _is_card),
    (PiiType.IBAN, _is_iban),
    (PiiType.NATIONAL_ID, _is_national_id),
    (PiiType.PHONE, _is_phone),  # last: many identifiers are also possible phone numbers
)


def detect(column: str, values: Iterable[object]) -> Finding | None:
    texts = [str(v).strip() for v in values if v is not None and str(v).strip()]
    matches: dict[PiiType, int] = {}
    for kind, test in DETECTORS:
        count = sum(1 for v in texts if test(v))
        if count:
            matches[kind] = count
    if PiiType.PAYMENT_CARD in matches or PiiType.IBAN in matches:
        matches.pop(PiiType.PHONE, None)  # a checksum beats a mere possible number
    return classify(column, matches, len(texts))


def scan_version(
    warehouse: Warehouse, table: str, version: int, schema: list[dict[str, object]]
) -> list[Finding]:
    """Findings for every column of a version: text columns by their values, all by name."""
    ref = parse_table_ref(table)
    statements = Statements(Dialect(warehouse.dialect), project=getattr(warehouse, "project", None))
    source = statements.version_table(ref, version)
    findings: list[Finding] = []
    for column in schema:
        name = str(column["name"])
        text = str(column.get("data_type") or "").upper().startswith(_TEXT_TYPES)
        values: list[object] = []
        if text:
            query = (
                exp.select(exp.column(name, quoted=True))
                .from_(source.copy())
                .where(exp.column(name, quoted=True).is_(exp.null()).not_())
                .limit(SAMPLE_SIZE)
            )
            values = [row[0] for row in warehouse.profile(query, table=ref)]
        found = detect(name, values)
        if found is not None:
            findings.append(found)
    return findings

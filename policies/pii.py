"""Personal data in query results: two tiers of confidence, and when a value is redacted.

High confidence: a bounded sample of a column's values matches a value pattern (email, phone,
payment card with a valid Luhn checksum, IBAN with a valid mod-97 checksum, a national id with
its checksum) for at least ``threshold`` of the non-empty values. Low confidence: only the
column's name suggests it. High-confidence columns are redacted as ``[REDACTED:<type>]`` unless
a person rejected the finding or the query was approved by a role allowed to see personal data;
low-confidence columns wait in a review queue, and a decision made once is never asked again.
Matching values is orchestration's (it reads samples); this module only decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from policies.roles import Role

DEFAULT_THRESHOLD = 0.8
SAMPLE_SIZE = 200  # values read per column, never more, never shown anywhere


class PiiType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    PAYMENT_CARD = "payment_card"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    NAME = "name"
    ADDRESS = "address"
    BIRTH_DATE = "birth_date"


class Tier(StrEnum):
    HIGH = "high"  # values matched
    LOW = "low"  # only the name suggests it


class Status(StrEnum):
    DETECTED = "detected"  # found, nobody decided yet
    CONFIRMED = "confirmed"  # a person said it is personal data
    REJECTED = "rejected"  # a person said it is not


_NAME_HINTS: tuple[tuple[re.Pattern[str], PiiType], ...] = (
    (re.compile(r"e_?mail"), PiiType.EMAIL),
    (re.compile(r"phone|mobile|^tel$|_tel$|^fax"), PiiType.PHONE),
    (re.compile(r"card_?(number|no|num)|^pan$|credit_?card"), PiiType.PAYMENT_CARD),
    (re.compile(r"iban|bank_?account"), PiiType.IBAN),
    (re.compile(r"ssn|social_?security|national_?id|passport|tax_?id|vat"), PiiType.NATIONAL_ID),
    (re.compile(r"birth|dob"), PiiType.BIRTH_DATE),
    (re.compile(r"street|address|zip|postcode|postal"), PiiType.ADDRESS),
    (
        re.compile(r"^(first|last|full|sur|given|contact|customer|partner|person)_?name$"),
        PiiType.NAME,
    ),
)


def name_hint(column: str) -> PiiType | None:
    lowered = column.lower()
    for pattern, kind in _NAME_HINTS:
        if pattern.search(lowered):
            return kind
    return None


@dataclass(frozen=True)
class Finding:
    column: str
    kind: PiiType
    tier: Tier
    matched: int  # sampled values that matched (counts only: values never leave the scan)
    sampled: int


def classify(
    column: str,
    matches: Mapping[PiiType, int],
    sampled: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> Finding | None:
    """The column's finding from how many sampled values each detector matched."""
    if sampled > 0 and matches:
        kind, matched = max(matches.items(), key=lambda kv: (kv[1], kv[0].value))
        if matched / sampled >= threshold:
            return Finding(column, kind, Tier.HIGH, matched, sampled)
    hinted = name_hint(column)
    if hinted is not None:
        return Finding(column, hinted, Tier.LOW, matches.get(hinted, 0), sampled)
    return None


def must_redact(tier: Tier, status: Status) -> bool:
    """Redact what values showed to be personal data, or what a person confirmed; never what a
    person rejected. A low-confidence finding nobody decided on is queued, not redacted."""
    if status == Status.REJECTED:
        return False
    return status == Status.CONFIRMED or tier == Tier.HIGH


def may_see(approver: Role | None) -> bool:
    """Only an admin's approval of the query lets personal data through unredacted."""
    return approver == Role.ADMIN


def redacted(kind: PiiType | str) -> str:
    return f"[REDACTED:{PiiType(kind).value}]"

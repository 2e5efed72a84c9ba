"""Name evidence: does a child column's name say it points at a parent table's key?

Conventions this reads: ``customer_id`` -> ``customers.id``; ``partner_id`` ->
``res_partner.id`` (the table's last word); ``o_custkey`` -> ``customer.c_custkey`` (TPC-H:
the same key after each table's one-letter prefix); ``billing_partner_id`` -> ``partners.id``
(a role in front of the entity). A parent column only counts when it is its own table's key
(``id``, ``<entity>_id``, ``c_custkey``), so a unique foreign key in a sibling table (a 1:1
extension's ``order_id``) is not taken for the parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEY_SUFFIXES = ("id", "key", "fk", "code", "no", "num", "number", "ref", "uuid")
_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class NameEvidence:
    score: float  # 0 (none) to 1 (the conventions name this exact parent key)
    reason: str


NONE = NameEvidence(0.0, "")


def key_named(column: str) -> bool:
    """Named like a key: ``id``, ``customer_id``, ``c_custkey``, ``line_no``."""
    words = tokens(column)
    if not words:
        return False
    last = words[-1]
    return last in KEY_SUFFIXES or (last.endswith("key") and len(last) > 4)


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def tokens(name: str) -> list[str]:
    return [t for t in _SPLIT.split(name.lower()) if t]


def table_words(table: str) -> list[str]:
    """A table's name as singular words: ``silver.res_partners`` -> ``['res', 'partner']``."""
    return [singular(t) for t in tokens(table.rsplit(".", 1)[-1])]


def _strip_prefix(column: str) -> tuple[str, str]:
    """TPC-H style ``o_custkey`` -> (``o``, ``custkey``); anything else -> ("", column)."""
    parts = column.lower().split("_", 1)
    if len(parts) == 2 and len(parts[0]) == 1:
        return parts[0], parts[1]
    return "", column.lower()


def entity(column: str) -> list[str]:
    """What a key column names, as words: ``billing_partner_id`` -> ``['billing', 'partner']``."""
    _, rest = _strip_prefix(column)
    words = tokens(rest)
    if len(words) > 1 and words[-1] in KEY_SUFFIXES:
        return [singular(w) for w in words[:-1]]
    if len(words) == 1 and words[0].endswith("key") and len(words[0]) > 4:
        return [singular(words[0][:-3])]  # TPC-H's custkey
    return []


def _names_table(words: list[str], table: list[str]) -> float:
    """How well entity words name a table: 1 exactly, 0.9 its last word, 0.7 an abbreviation."""
    if not words or not table:
        return 0.0
    joined, whole = "".join(words), "".join(table)
    if words == table or joined == whole:
        return 1.0
    if words[-1] == table[-1]:
        return 0.9 if len(words) == 1 or len(table) == 1 else 0.8
    if len(joined) >= 3 and (whole.startswith(joined) or table[-1].startswith(joined)):
        return 0.7
    return 0.0


def own_key(column: str, table: str) -> bool:
    """Is this column its table's own key by name (not a reference to another table)?"""
    lowered = column.lower()
    if lowered in {"id", "key", "uuid", "code", "pk"}:
        return True
    words = entity(column)
    if not words:
        return False
    if _names_table(words, table_words(table)) >= 0.8:
        return True
    prefix, _ = _strip_prefix(column)
    return bool(prefix) and table_words(table)[0].startswith(prefix)


def name_evidence(child_table: str, child: str, parent_table: str, parent: str) -> NameEvidence:
    """Name evidence that ``child_table.child`` references ``parent_table.parent``."""
    if not own_key(parent, parent_table):
        return NONE
    child_prefix, child_rest = _strip_prefix(child)
    parent_prefix, parent_rest = _strip_prefix(parent)
    same_after_prefix = child_rest == parent_rest and parent_rest != "id"
    if child_prefix and parent_prefix and child_prefix != parent_prefix and same_after_prefix:
        return NameEvidence(1.0, f"{child} and {parent} name the same key after their prefixes")
    words = entity(child)
    if not words:
        return NONE
    fit = _names_table(words, table_words(parent_table))
    if fit == 0.0:
        parent_words = entity(parent)
        if parent_words and parent_words == words:
            fit = 0.9
    if fit == 0.0:
        return NONE
    if parent.lower() == child.lower():
        return NameEvidence(fit, f"{child} is named as {parent_table}'s key {parent}")
    return NameEvidence(fit, f"{child} names {parent_table} ({parent} is its key)")

"""Normalized e-mail and phone keys, so that one person's contacts compare equal."""

from __future__ import annotations

import re

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
MAX_EMAIL_LENGTH = 254
MAX_PHONE_LENGTH = 32
# No spaces or control characters (PostgreSQL text cannot even hold NUL).
_EMAIL = re.compile(r"\A[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+\Z")
# Digits with the usual punctuation: +62 (0812) 3456-7890.
_PHONE = re.compile(r"\A\+?[0-9 ().\-]+\Z")
_NON_DIGITS = re.compile(r"[^0-9]")


def is_plausible_email(email: str) -> bool:
    """A light syntax check: one @, a dotted domain, no spaces, at most 254 characters."""
    return len(email) <= MAX_EMAIL_LENGTH and bool(_EMAIL.match(email.strip()))


def is_plausible_phone(phone: str) -> bool:
    """Digits, spaces and + ( ) . -; 6 to 15 digits (E.164 allows at most 15)."""
    digits = _NON_DIGITS.sub("", phone)
    well_formed = len(phone) <= MAX_PHONE_LENGTH and bool(_PHONE.match(phone.strip()))
    return well_formed and 6 <= len(digits) <= 15


def email_key(email: str) -> str:
    """Trimmed, lower-cased, +tag dropped, and for Gmail the dots of the local part dropped."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    return f"{local}@{domain}"


def phone_key(phone: str) -> str:
    """Digits only, with a leading 0 or 62 read as Indonesia's 62."""
    digits = _NON_DIGITS.sub("", phone)
    if digits.startswith("62"):
        return digits
    if digits.startswith("0"):
        return "62" + digits[1:]
    return digits

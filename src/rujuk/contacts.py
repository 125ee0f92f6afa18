"""Normalized e-mail, phone and IP keys, so that one person's contacts compare equal, and the
e-mail domain checks of a sign-up."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from ipaddress import IPv4Address, IPv6Address

import disposable_email_domains

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


def email_domain(email: str) -> str:
    """The e-mail's domain as compared with domain lists: lower-cased, no trailing dot, and
    an internationalized domain in its ASCII (punycode) form, the form lists are kept in."""
    return domain_key(email.strip().rpartition("@")[2])


def domain_key(domain: str) -> str:
    """A domain name as compared with domain lists (see email_domain)."""
    domain = domain.strip().lower().rstrip(".")
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # not a valid IDN: compared as written, so it can match nothing listed


def in_domains(domain: str, domains: Collection[str]) -> bool:
    """Whether the domain, or a domain it is a subdomain of, is in `domains` (domain keys)."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels)))


def is_disposable(domain: str) -> bool:
    """Whether the domain (or a parent) is on the public list of disposable-mail domains.

    The list is the `disposable-email-domains` package, kept current by updating its pin.
    """
    return in_domains(domain, disposable_email_domains.blocklist)


MAX_IP_LENGTH = 64  # the longest IPv6 text with a zone is well under this


def parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """An IPv4 or IPv6 address, or None when the text is not one."""
    if len(text) > MAX_IP_LENGTH:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def ip_key(address: IPv4Address | IPv6Address) -> str:
    """What two sign-ups from one place share: the IPv4 address, or the IPv6 /64 network.

    A household or a phone gets a whole /64 and rotates the rest (privacy extensions), so
    the /64 is the IPv6 counterpart of one IPv4 address. An IPv4-mapped IPv6 address
    (::ffff:203.0.113.7, as dual-stack servers report IPv4 clients) is the IPv4 address.
    """
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = int(address) >> 64 << 64
        return f"{IPv6Address(network)}/64"
    return str(address)

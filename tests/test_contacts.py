"""Unit tests of contact normalization: one person's e-mails and phones compare equal."""

from __future__ import annotations

import pytest

from rujuk import contacts


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("andi@example.com", "andi@example.com"),
        ("  Andi@Example.COM ", "andi@example.com"),
        ("andi+promo@example.com", "andi@example.com"),
        ("andi+a+b@example.com", "andi@example.com"),
        ("a.n.d.i@example.com", "a.n.d.i@example.com"),  # dots count outside Gmail
        ("A.N.D.I+x@gmail.com", "andi@gmail.com"),
        ("a.ndi@GoogleMail.com", "andi@gmail.com"),
        ("a.ndi@gmail.com.evil.example", "a.ndi@gmail.com.evil.example"),
    ],
)
def test_email_key(email: str, key: str) -> None:
    assert contacts.email_key(email) == key


@pytest.mark.parametrize(
    ("phone", "key"),
    [
        ("081234567890", "6281234567890"),
        ("+62 812-3456-7890", "6281234567890"),
        ("62812 3456 7890", "6281234567890"),
        ("(0812) 3456.7890", "6281234567890"),
        ("+1 415 555 0100", "14155550100"),
        ("812345678", "812345678"),
    ],
)
def test_phone_key(phone: str, key: str) -> None:
    assert contacts.phone_key(phone) == key


@pytest.mark.parametrize(
    "email", ["a@b.co", "andi.s+x@gmail.com", " andi@example.co.id ", "x" * 240 + "@example.com"]
)
def test_plausible_emails(email: str) -> None:
    assert contacts.is_plausible_email(email)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "andi",
        "andi@",
        "@example.com",
        "andi@example",
        "an di@example.com",
        "andi@@example.com",
        "a@b@example.com",
        "x" * 10_000 + "@example.com",
        "x" * 243 + "@example.com",  # 255 characters
        "andi\x00@example.com",
        "andi@exa\nmple.com",
    ],
)
def test_implausible_emails(email: str) -> None:
    assert not contacts.is_plausible_email(email)


@pytest.mark.parametrize("phone", ["081234567890", "+62 812-3456-7890", "(021) 555 0100", "123456"])
def test_plausible_phones(phone: str) -> None:
    assert contacts.is_plausible_phone(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "12345",  # 5 digits
        "1234567890123456",  # 16 digits
        "call me at 0812345678",
        "0812345678; DROP TABLE customer",
        "0812\x00345678",
        "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width digits
        "+" + "1" * 15 + " " * 20,
    ],
)
def test_implausible_phones(phone: str) -> None:
    assert not contacts.is_plausible_phone(phone)

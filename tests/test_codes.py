"""Unit tests of referral code text: generation, vanity rules, typed-code normalization."""

from __future__ import annotations

import pytest

from rujuk import codes

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_the_alphabet_is_crockford_base32() -> None:
    assert len(codes.CROCKFORD_ALPHABET) == 32
    assert set(codes.CROCKFORD_ALPHABET) == CROCKFORD
    assert not set("ILOU") & set(codes.CROCKFORD_ALPHABET)


def test_default_codes_are_8_crockford_characters_and_vary() -> None:
    made = [codes.new_default_code() for _ in range(200)]
    assert all(len(code) == 8 and set(code) <= CROCKFORD for code in made)
    # 32**8 possibilities: 200 draws colliding would mean the generator is broken.
    assert len(set(made)) == 200


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ABCD2345", ["ABCD2345"]),
        ("abcd2345", ["ABCD2345"]),
        ("  abcd-2345 ", ["ABCD2345"]),
        ("ab cd - 23 45", ["ABCD2345"]),
        ("AB\tCD\n2345", ["ABCD2345"]),
        ("o0o0", ["O0O0", "0000"]),
        ("HELLO123", ["HELLO123", "HE110123"]),
        ("i1l1", ["I1L1", "1111"]),
    ],
)
def test_typed_codes_are_normalized(typed: str, expected: list[str]) -> None:
    assert codes.normalize_typed_code(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "ABC",  # too short
        "A" * 21,  # too long
        "ABCD_2345",
        "ABCD2345!",
        "ÄBCD2345",
        "straße12",  # "ß".upper() is "SS": not a letter A-Z
        "ﬀﬀ12",  # ligatures upper-case to ASCII letters
        "🙂🙂🙂🙂",
        "'; DROP TABLE referral_code; --",
        "ABCD\x002345",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
    ],
)
def test_malformed_typed_codes_match_nothing(typed: str) -> None:
    assert codes.normalize_typed_code(typed) == []


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("andi2026", "ANDI2026"),
        (" Andi2026 ", "ANDI2026"),
        ("ABCD", "ABCD"),
        ("A" * 20, "A" * 20),
        ("HELLO", "HELLO"),
    ],
)
def test_vanity_codes_are_stored_upper_case(requested: str, expected: str) -> None:
    assert codes.normalize_vanity(requested) == expected


@pytest.mark.parametrize(
    "requested",
    [
        "ABC",
        "A" * 21,
        "AN DI",
        "ANDI-2026",
        "ANDİ",
        "straße",
        "ﬀﬀ",
        "andi🙂",
        "",
        "\uff21\uff22\uff23\uff24",
    ],
)
def test_malformed_vanity_codes_are_refused(requested: str) -> None:
    assert codes.normalize_vanity(requested) is None

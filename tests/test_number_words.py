"""The normalizer's own English number words against num2words' (made American), the reference.

num2words writes British words ("one hundred and one", commas between groups); the house
style drops the "and" and the commas. Anything else that differs is a bug in ours.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from num2words import num2words

from litettsd_plugins.normalizers._words import MAX_GROUPED_DIGITS, cardinal, ordinal, year

QUANTITIES = st.one_of(
    st.integers(min_value=0, max_value=10**MAX_GROUPED_DIGITS - 1),
    st.integers(min_value=0, max_value=100_000),
    st.sampled_from([0, 1, 10, 11, 12, 19, 20, 21, 99, 100, 101, 110, 1000, 1001, 10**6, 10**6 + 1, 10**33]),
)


def reference(n: int, to: str) -> str:
    return str(num2words(n, lang="en", to=to)).replace(",", "").replace(" and ", " ")


@given(QUANTITIES, st.booleans())
def test_cardinals_match_the_reference(n: int, negative: bool) -> None:
    value = -n if negative else n
    assert cardinal(value) == reference(value, "cardinal")


@given(QUANTITIES)
def test_ordinals_match_the_reference(n: int) -> None:
    assert ordinal(n) == reference(n, "ordinal")


YEARS = st.one_of(
    st.integers(min_value=-3000, max_value=20_000),
    # each side of every rule's edge: pairs or not, "hundred", "oh-"
    st.sampled_from([-44, 0, 9, 99, 100, 101, 999, 1000, 1009, 1010, 1900, 1901, 1909, 1910, 2000, 2009, 2010, 9999, 10000]),
)


@given(YEARS)
def test_years_match_the_reference(n: int) -> None:
    assert year(n) == reference(n, "year")


def test_the_house_style_examples() -> None:
    assert cardinal(1_234_567) == "one million two hundred thirty-four thousand five hundred sixty-seven"
    assert ordinal(112) == "one hundred twelfth"
    assert ordinal(1_000_000) == "one millionth"
    assert [year(n) for n in (1905, 1900, 2005, 2010, 42)] == [
        "nineteen oh-five",
        "nineteen hundred",
        "two thousand five",
        "twenty ten",
        "forty-two",
    ]

"""classify() against the validation rules written out in plain Python, on thousands of generated lines.

classify reads nearly every line through a fast path (one whole-line regex, fields cut with
substring_index) and only the rest through per-field checks; each generated corpus mixes both, so a
difference between the two paths, or between either and the rules, shows up as a line whose outcome
differs. The rules below are the module docstring's, in the order classify applies them.
"""

from __future__ import annotations

import random
import re

import pytest

from spark_jobs.als.ratings import (
    CSV_HEADERS,
    DUPLICATE,
    FORMATS,
    ID_PATTERN,
    ID_TOO_LARGE,
    INT_MAX,
    MALFORMED,
    MISSING_ID,
    NEGATIVE_ID,
    NUMBER_PATTERN,
    RATING_OUT_OF_RANGE,
    REJECT_REASONS,
    TIMESTAMP_PATTERN,
    classify,
    read_lines,
    well_formed_pattern,
)

MIN_RATING, MAX_RATING = 0.5, 5.0
LINES_PER_FORMAT = 4000

IDS = ["1", "42", "99999", "2147483647", "2147483648", "9999999999", "00000000001", "123456789012", "0"]
IDS += ["000000000123", "00000000002147483647", "0002147483648", "00"]  # zero-padded: read by value
ODD_IDS = ["", "-1", "-0", "+5", "1.0", "1e3", "abc", "5x", "١٢"]  # the last: Arabic-Indic digits
RATINGS = ["1", "4", "4.5", "5.", ".5", "0.5", "5.0", "0", "5.5", "1e0", "5E-1", "1e400", "-1", "+3", "10"]
ODD_RATINGS = ["", "four", "4,5", "NaN", "Infinity", "4.5.1", "e5", "."]
TIMES = ["881250949", "0", "123456789012345678", "1234567890123456789", "", "-1", "1.5", "yesterday"]
TIMES += ["0000000000000000000000881250949"]


def _field(rng: random.Random, choices: list, odd: list) -> str:
    text = rng.choice(odd) if rng.random() < 0.15 else rng.choice(choices)
    if rng.random() < 0.1:
        text = rng.choice([" ", "  "]) + text
    if rng.random() < 0.1:
        text += rng.choice([" ", "  "])
    return text


def generated_lines(fmt: str, seed: int) -> list:
    """Lines in fmt's layout, most of them valid; the rest wrong in one or more ways."""
    rng, sep = random.Random(seed), FORMATS[fmt]
    lines = []
    for _ in range(LINES_PER_FORMAT):
        fields = [_field(rng, IDS, ODD_IDS), _field(rng, IDS, ODD_IDS), _field(rng, RATINGS, ODD_RATINGS)]
        if rng.random() < 0.7:
            fields.append(rng.choice(TIMES))
        if rng.random() < 0.05:
            fields = fields[: rng.randint(0, len(fields))]
        if rng.random() < 0.05:
            fields.append(rng.choice(["", "1", "x"]))
        line = sep.join(fields)
        roll = rng.random()
        if roll < 0.02:
            line = rng.choice(["", "   ", "\t", " \t\u00a0\u3000", "\ufeff", "::", ",", "1 2 3 4"])
        elif roll < 0.04:
            line = line.replace(sep, rng.choice(["\t", ",", "::", " "]), 1)
        lines.append(line)
    if fmt == "csv":
        lines[rng.randrange(len(lines))] = " UserId , movieId,rating,timestamp"
    return lines


def _id(text: str) -> int | None:
    """The id's value when it is an integer of at most 11 characters once leading zeros are dropped."""
    digits = re.sub(r"^(-?)0+([0-9])", r"\1\2", text)
    return int(text) if re.search(ID_PATTERN, text) and len(digits) <= 11 else None


def expected_outcome(line: str, fmt: str) -> tuple | None:
    """(reject_reason, user, item, rating, timestamp) as the rules give it; None for lines that are not rows."""
    if re.fullmatch(r"[\s\ufeff]*", line) or (fmt == "csv" and re.sub(r"\s", "", line).lower() in CSV_HEADERS):
        return None
    fields = line.split(FORMATS[fmt])
    count = len(fields)
    texts = [fields[i].strip(" ") if count > i else None for i in range(4)]
    user_text, item_text, rating_text, time_text = texts
    if count < 3 or count > 4:
        return (MALFORMED, None, None, None, None)
    well_formed = re.search(well_formed_pattern(fmt), line) is not None
    user = int(user_text) if well_formed else _id(user_text)
    item = int(item_text) if well_formed else _id(item_text)
    rating = float(rating_text) if well_formed or re.search(NUMBER_PATTERN, rating_text) else None
    parses = time_text is not None and (
        (well_formed and time_text != "") or re.search(TIMESTAMP_PATTERN, time_text) is not None
    )
    timestamp = int(time_text) if parses else None
    in_range = rating is not None and MIN_RATING <= rating <= MAX_RATING
    if user_text == "" or item_text == "":
        reason = MISSING_ID
    elif (
        not re.search(ID_PATTERN, user_text)
        or not re.search(ID_PATTERN, item_text)
        or rating is None
        or (time_text not in (None, "") and timestamp is None)
    ):
        reason = MALFORMED
    elif user_text.startswith("-") or item_text.startswith("-"):
        reason = NEGATIVE_ID
    elif user is None or item is None or user > INT_MAX or item > INT_MAX:
        reason = ID_TOO_LARGE
    elif not in_range:
        reason = RATING_OUT_OF_RANGE
    else:
        return (None, user, item, rating, timestamp)
    return (reason, None, None, None, None)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_generated_line_is_classified_as_the_rules_say(spark, write_lines, fmt):
    lines = generated_lines(fmt, seed=sorted(FORMATS).index(fmt))
    rows = [(line, outcome) for line in lines if (outcome := expected_outcome(line, fmt)) is not None]
    frame = classify(read_lines(spark, write_lines(f"ratings.{fmt}", lines)), fmt, MIN_RATING, MAX_RATING)
    columns = ("position", "reject_reason", "user", "item", "rating", "timestamp")
    # Positions follow line order within the one file: sorted, they line up with the rows above.
    actual = [tuple(row)[1:] for row in sorted(frame.select(*columns).collect())]
    assert len(actual) == len(rows)
    mismatches = [(line, want, have) for (line, want), have in zip(rows, actual, strict=True) if want != have]
    assert not mismatches, f"{len(mismatches)} of {len(rows)} lines differ, e.g. {mismatches[:5]}"

    # The corpus only tests both paths if it reaches the outcomes through each of them.
    well_formed = re.compile(well_formed_pattern(fmt))
    assert {want[0] for _, want in rows} == {None, *REJECT_REASONS} - {DUPLICATE}
    valid = [line for line, want in rows if want[0] is None]
    assert any(well_formed.search(line) for line in valid)
    assert any(not well_formed.search(line) for line in valid)  # e.g. an 11-digit id with a leading 0
    reasons_of_well_formed = {want[0] for line, want in rows if well_formed.search(line)}
    assert {ID_TOO_LARGE, RATING_OUT_OF_RANGE} <= reasons_of_well_formed

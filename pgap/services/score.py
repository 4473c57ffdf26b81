"""The agent's score from the value Dixa holds for the P-GAP Select attribute.

Dixa returns a Select's value as a list of option values (`["7"]`); webhooks and older
answers have been seen with a plain string (`"7"`) or number (`7`), a nested option as the
path of values (`["p_gap", "7"]`: the last one is the chosen option) and an option's id
(resolved through the definition stored by the check). Anything else is invalid, with the
reason and the raw value; nothing is guessed."""

import json
from dataclasses import dataclass

MAX_RAW = 200  # characters of a raw value quoted in a reason


@dataclass(frozen=True)
class Reading:
    score: int | None
    problem: str = ""  # why there is no score
    missing: bool = False  # no value at all (as opposed to an invalid one)


def _quoted(raw) -> str:
    text = json.dumps(raw, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RAW else text[: MAX_RAW - 1] + "…"


def score_read(raw, *, options: dict | None = None) -> Reading:
    """The 0–10 score in `raw`, or why there is none. `options` maps the attribute's option
    ids to their values (from the check against Dixa)."""
    options = options or {}
    value = raw
    if isinstance(value, dict):  # {"value": …} or an option object
        value = value.get("value", value.get("id"))
    if isinstance(value, list):
        leaves = [v for v in value if v not in (None, "")]
        if not leaves:
            return Reading(None, "the attribute has no value", missing=True)
        value = leaves[-1]  # a path of nested options ends with the chosen one
    if value is None or (isinstance(value, str) and not value.strip()):
        return Reading(None, "the attribute has no value", missing=True)
    if isinstance(value, str):
        text = value.strip()
        text = str(options.get(text, text)).strip()  # an option id stands for its value
        if not (text.isascii() and text.isdigit()) or len(text) > 3:
            return Reading(None, f"not a score from 0 to 10: {_quoted(raw)}")
        value = int(text)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return Reading(None, f"not a score from 0 to 10: {_quoted(raw)}")
    if not 0 <= value <= 10:
        return Reading(None, f"{value} is outside 0–10 (raw value {_quoted(raw)})")
    return Reading(value)


def attribute_find(attributes, *, identifier: str, attribute_id: str = "") -> tuple[bool, object]:
    """(present, raw value) of the P-GAP attribute among a conversation's attributes: Dixa's
    list of {id, identifier, value}, or a mapping by identifier or by id."""
    if isinstance(attributes, dict):
        for key in (identifier, attribute_id):
            if key and key in attributes:
                return True, attributes[key]
        return False, None
    for item in attributes if isinstance(attributes, list) else []:
        if not isinstance(item, dict):
            continue
        by_id = bool(attribute_id) and item.get("id") == attribute_id
        if by_id or item.get("identifier") == identifier:
            return True, item.get("value")
    return False, None

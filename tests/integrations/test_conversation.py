"""The conversation every handler sees, built from a stored close's `data`."""

import pytest

from integrations.dixa import envelope, samples
from integrations.dixa.conversation import Conversation


def closed(casing="snake", **conversation) -> Conversation:
    body = samples.event("ConversationClosed", casing="snake")
    body["data"]["conversation"].update(conversation)
    if casing == "camel":
        body = samples._to_camel(body)
    return Conversation.from_envelope(envelope.parse(samples.encode(body)))


@pytest.mark.parametrize("casing", ["snake", "camel"])
def test_custom_attributes_as_a_plain_mapping_are_kept(casing):
    conversation = closed(casing, custom_attributes={"score": ["7"]})
    assert conversation.custom_attributes == {"score": ["7"]}


def test_custom_attribute_items_without_a_text_identifier_are_skipped():
    # given Dixa's list with items that are not {id, identifier, value}
    items = [
        "p_gap",
        None,
        {"identifier": 5, "value": ["1"]},
        {"id": "a-1", "value": ["2"]},
        {"id": "a-2", "identifier": "p_gap", "value": ["7"]},
    ]
    # when
    conversation = closed(custom_attributes=items)
    # then only the well-formed item is read
    assert conversation.custom_attributes == {"p_gap": ["7"]}

"""The parsed-post model: its JSON form as stored, and its trip through a process pipe."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest.model import Entity, MediaItem, ParsedPost, Reaction, entities_json

entities = st.builds(
    Entity,
    type=st.sampled_from(["bold", "text_link", "pre", "custom_emoji", "text_mention", 'q"\\']),
    offset=st.integers(0, 10**6),
    length=st.integers(1, 10**4),
    url=st.none() | st.text(),
    language=st.none() | st.text(),
    custom_emoji_id=st.none() | st.text(alphabet="0123456789", min_size=1),
    user_id=st.none() | st.integers(1, 2**53),
)


@given(st.lists(entities, max_size=6))
def test_entities_json_is_json_dumps(items: list[Entity]) -> None:
    assert entities_json(items) == json.dumps([entity.to_dict() for entity in items])


@pytest.mark.parametrize(
    "event",
    [
        ParsedPost(message_id=None),
        ParsedPost(
            message_id=7,
            text="hello",
            entities=[Entity("bold", 0, 5), Entity("text_link", 0, 5, url="https://e.org")],
            media=[MediaItem("photo", file="a.jpg", extra={"k": 1}, hash="ab")],
            reactions=[Reaction("👍", 3)],
            album_ids=[7, 8],
        ),
    ],
)
def test_events_survive_pickling(event: ParsedPost) -> None:
    assert pickle.loads(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)) == event

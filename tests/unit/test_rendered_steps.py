"""The store of rendered answers: one rendering per key, and never more keys than its limit."""

from __future__ import annotations

from hotline.ivr.model import CallState, Hangup, Step
from hotline.telephony.rendered import RenderedSteps


def answer(text: str) -> tuple[Step, str]:
    return Step(utterances=(), state=CallState(), end=Hangup()), text


def test_a_key_is_rendered_once_then_answered_from_the_store():
    store = RenderedSteps()
    renderings: list[str] = []

    def render(text: str):
        return lambda: renderings.append(text) or answer(text)

    first = store.get(("topic", "1"), render("violence"))
    again = store.get(("topic", "1"), render("something else"))
    other = store.get(("topic", "2"), render("trafficking"))

    assert first[1] == again[1] == "violence"
    assert other[1] == "trafficking"
    assert renderings == ["violence", "trafficking"]


def test_past_its_limit_the_store_still_answers_but_keeps_nothing_more():
    store = RenderedSteps(limit=2)
    for topic in ("a", "b", "c", "d"):
        assert store.get(topic, lambda topic=topic: answer(topic))[1] == topic

    assert len(store) == 2
    assert store.get("c", lambda: answer("c again"))[1] == "c again"

"""The title that carries an innsync cancellation text into a Channex policy ([UNCONFIRMED])."""

from __future__ import annotations

from innsync.channels.channex.policies import MAX_TITLE, policy_marker, policy_title


def test_a_short_text_is_the_title_on_one_line_beside_its_marker() -> None:
    text = "Free cancellation\n  until 2 days before."
    assert policy_title(text) == f"Free cancellation until 2 days before. {policy_marker(text)}"


def test_a_long_text_is_cut_to_fit_and_distinct_texts_keep_distinct_markers() -> None:
    first, second = "x" * 5000 + "a", "x" * 5000 + "b"
    titles = [policy_title(first), policy_title(second)]
    assert all(len(title) == MAX_TITLE for title in titles)
    assert all("…" in title for title in titles)
    # Cut alike, told apart by the marker: each finds only its own policy again.
    assert titles[0] != titles[1]
    assert titles[0].endswith(policy_marker(first))
    assert policy_marker(first) not in titles[1]

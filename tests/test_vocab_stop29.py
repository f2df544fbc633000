"""Wikipedia's war labels and "Animated feature" are aliases, said as such (they were unscorable names)."""

from __future__ import annotations

import pytest

from genretag.vocabulary import current_vocabulary


@pytest.mark.parametrize(("name", "genre"), [
    ("world war ii", "War"), ("World War I", "War"), ("Second World War", "War"), ("WWII", "War"),
    ("Animated feature", "Animation"), ("animated features", "Animation"), ("Animated film", "Animation"),
])
def test_wikipedia_and_award_labels_are_their_genre_and_said(name, genre):
    rows, report = current_vocabulary().apply([[name, "Drama"]])
    assert rows == [[genre, "Drama"]]
    assert report.applied[name] == {"to": [genre], "kind": "alias", "rows": 1}

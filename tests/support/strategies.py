"""Hypothesis strategies shared by the codecs' tests."""

from __future__ import annotations

from hypothesis import strategies as st

# Any value JSON carries (no NaN or infinity: the protocols refuse them).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)

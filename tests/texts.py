"""Hypothesis strategies for texts built from the fragments a test cares about."""

from hypothesis import strategies as st


def texts_from(fragments: list[str], max_size: int = 25) -> st.SearchStrategy[str]:
    """Texts that are any sequence of the fragments, joined."""
    return st.lists(st.sampled_from(fragments), max_size=max_size).map("".join)

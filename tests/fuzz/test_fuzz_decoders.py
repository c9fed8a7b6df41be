"""A short fuzz run of every decoder in the suite (the 100 k-input run is ``python -m loadtest.fuzz``):
generated and mutated inputs may only ever raise the decoder's DecodeError, quickly."""

import pytest

from loadtest.fuzz import fuzz, targets

TARGETS = targets()


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_decoder_survives_mutated_inputs(target) -> None:  # type: ignore[no-untyped-def]
    count, crashes, hangs, examples = fuzz(target, 3000, seed=7, hang_ms=1000)
    assert (crashes, hangs) == (0, 0), examples
    assert count == 3000

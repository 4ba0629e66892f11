"""Every decoder of peer and client bytes, fed mutated valid encodings and noise.

Each input must decode into a value whose canonical encoding is exactly the input, or be
refused with the decoder's typed error; any other exception fails the test with the input that
caused it (Hypothesis shrinks the batch it came from). Resident memory is sampled while a
target runs and may grow only a little. The number of inputs comes from
``IOMTSHARE_FUZZ_EXAMPLES`` (tests/fuzz/budget.py).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import Tally, fuzz_settings, plan, start
from tests.fuzz.mutations import BATCH, mutants, starts
from tests.fuzz.targets import DECODERS, Decoder, inputs_for


def check(target: Decoder, data: bytes, tally: Tally) -> None:
    """Decode one input: a canonical value or the target's typed error, nothing else."""
    try:
        value = target.decode(data)
    except target.errors:
        tally.tried(refused=True)
        return
    except Exception as exc:
        raise AssertionError(
            f"{target.name} raised {type(exc).__name__}: {exc} on input {data.hex()}"
        ) from exc
    tally.tried()
    again = target.encode(value)
    if target.exact and again != data:
        raise AssertionError(f"{target.name} accepted a non-canonical input {data.hex()}")


@pytest.mark.parametrize("target", DECODERS, ids=lambda d: d.name)
def test_decoder_accepts_only_canonical_encodings_and_refuses_with_its_typed_error(
    target: Decoder,
) -> None:
    seeds = target.seeds()  # builds the corpus first, so its memory is not the target's
    tally = start(target.name)
    inputs = inputs_for(target)
    examples, batch = plan(inputs, BATCH)

    @fuzz_settings(target.name, examples)
    @given(starts(seeds, target.header), seeds, st.integers(0, 2**64 - 1))
    def run(first: bytes, other: bytes, rng_seed: int) -> None:
        for data in mutants(first, other, rng_seed, batch):
            check(target, data, tally)

    run()
    tally.finish()
    # Hypothesis skips examples it has already run; a target whose examples ran out early
    # would make the suite's count a promise it did not keep.
    assert tally.inputs >= inputs * 0.9, f"only {tally.inputs} of {inputs} inputs tried"

"""The knee tool's schedules: steps, repeats, lengths and fresh starts."""

from pyserverbench.devtools.knee import schedule


def test_a_schedule_is_blocks_of_steps_with_repeats_and_lengths():
    assert schedule("1150x3,1800|1150@15x2,900") == [
        [(1150.0, None)] * 3 + [(1800.0, None)],
        [(1150.0, 15), (1150.0, 15), (900.0, None)]]
    assert schedule("100") == [[(100.0, None)]]

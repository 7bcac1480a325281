"""benchmarks.scheduler_perf's throughput samples: what SchedulingThroughput averages."""

from benchmarks.scheduler_perf import throughput_samples


def test_each_full_second_is_a_sample_and_the_cut_short_last_one_is_not() -> None:
    # 3 binds in the first second, 2 in the second, then 1 bind 0.2 s into the third.
    times = [10.0, 10.3, 10.9, 11.1, 11.5, 12.2]
    assert throughput_samples(times) == [3.0, 2.0]


def test_a_run_shorter_than_a_second_is_one_sample_at_its_rate() -> None:
    assert throughput_samples([5.0, 5.25, 5.5]) == [6.0]
    assert throughput_samples([5.0]) == [1.0]
    assert throughput_samples([]) == []

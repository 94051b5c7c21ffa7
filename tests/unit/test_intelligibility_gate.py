"""bench.intelligibility_gate's replay of the gate's decision rules on measured candidates."""
from __future__ import annotations

from bench import intelligibility_gate as gate


def measured(rank: int, proxy: int, second: int, held: int, ge2e: float, speaker: str = "s") -> gate.Measured:
    return gate.Measured(speaker=speaker, candidate=f"c{rank}", rank=rank, proxy_similarity=0.7, proxy_errors=proxy,
                         proxy_words=16, second_errors={k: second for k in gate.SECOND},
                         second_words={k: 16 for k in gate.SECOND}, held_errors=held, held_words=30, ge2e=ge2e,
                         ecapa=ge2e / 2)


def test_the_shipped_rule_keeps_the_first_candidate_with_at_most_six_errors():
    order = [measured(0, 7, 2, 9, 0.8), measured(1, 6, 9, 3, 0.7), measured(2, 4, 2, 2, 0.6)]
    assert gate.choose(order, gate.proxy_limit(6)).rank == 1
    assert gate.choose(order, gate.proxy_limit(7)).rank == 0


def test_when_none_passes_the_lowest_rate_is_kept_ties_to_the_earlier():
    order = [measured(0, 9, 0, 9, 0.8), measured(1, 8, 0, 3, 0.7), measured(2, 8, 0, 2, 0.6)]
    assert gate.choose(order, gate.proxy_limit(6)).rank == 1


def test_a_second_look_passes_a_near_miss_on_the_mean_rate_only():
    judge = gate.second_look("A")
    assert judge(measured(0, 7, 4, 0, 0.8)) == (True, (7 / 16 + 4 / 16) / 2)      # 0.34
    assert judge(measured(0, 8, 5, 0, 0.8))[0] is False                           # 0.41
    assert judge(measured(0, 9, 0, 0, 0.8)) == (False, 9 / 16)                    # too far off: no second look
    assert judge(measured(0, 6, 16, 0, 0.8)) == (True, 6 / 16)                    # passes on the proxy alone


def test_replay_averages_the_kept_candidates_and_pools_their_errors():
    by_speaker = {"a": [measured(1, 4, 0, 3, 0.7, "a"), measured(0, 7, 0, 9, 0.8, "a")],
                  "b": [measured(0, 5, 0, 6, 0.6, "b")]}
    r = gate.replay(by_speaker, gate.proxy_limit(6))
    assert r["ranks"] == [1, 0] and abs(r["ge2e"] - 0.65) < 1e-12 and r["wer"] == 9 / 60

"""The reproduction card (examples/reproduction_card.py): generated from results, never typed.

The committed card must be what the committed results give; the verdicts
follow the card's stated rule on planted results (a paper-like run, a run
where the tickets are no better than their controls, unfinished runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def card():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import reproduction_card
        yield reproduction_card
    finally:
        sys.path.remove(str(EXAMPLES))


def density(r: int, hidden: float = 0.2, output: float = 0.1) -> float:
    """LeNet-300-100's fraction of weights left after r rounds at these rates."""
    kept = (784 * 300 + 300 * 100) * (1 - hidden) ** r + 100 * 10 * (1 - output) ** r
    return kept / 266_200


def rec(r, acc, es, jitter=0.0, **rates):
    return {"round": r, "density": density(r, **rates), "seconds": 100.0 + r,
            "early_stop_test_accuracy": (acc + jitter) / 100, "early_stop_iteration": es,
            "history": [{"iteration": i, "test_accuracy": (acc + jitter) / 100}
                        for i in (0, 100)]}


def run(ticket, ticket_es, reinit=None, reinit_es=None, rounds=20, jitter=0.0, **rates):
    """A results dict: the ticket's accuracy / early stop as functions of the round."""
    out = {"config": {"rounds": rounds},
           "rounds": [rec(r, ticket(r), ticket_es(r), jitter, **rates)
                      for r in range(rounds + 1)], "controls": {}}
    if reinit is not None:
        out["controls"]["reinit"] = [rec(r, reinit(r), reinit_es(r), jitter, **rates)
                                     for r in range(1, rounds + 1)]
    return out


def paper_like(card):
    def ticket(r):
        return 98.0 if r == 0 else 98.4 if r <= 13 else {14: 98.2, 15: 98.0, 16: 97.8}.get(
            r, 97.0)

    def ticket_es(r):
        return 10_000 if r == 0 else 6_000 if r <= 7 else 8_000

    seeds = [run(ticket, ticket_es, lambda r: 98.0 if r <= 6 else 97.0, lambda r: 15_000,
                 jitter=j) for j in (-0.05, 0.05)]
    seeds[0]["controls"]["random_prune"] = [rec(r, 98.0 if r <= 4 else 96.5, 14_000)
                                            for r in range(1, 21)]
    oneshot = run(lambda r: 98.0 if r == 0 else 98.2 if r <= 10 else 96.0,
                  lambda r: 10_000 if r == 0 else 7_000)
    rates = {rate: run(lambda r: 98.0 if r == 0 else 97.0, lambda r: 9_000, rounds=n,
                       hidden=rate, output=rate / 2) for rate, n in ((0.4, 9), (0.6, 5))}
    return card.Runs(seeds, oneshot, rates)


def test_a_paper_like_run_reproduces_every_claim(card):
    rows = card.claims(paper_like(card))
    assert len(rows) == 9
    assert [c.verdict for c in rows] == ["reproduced"] * 9, [(c.claim, c.ours) for c in rows]
    random = next(c for c in rows if c.claim.startswith("Randomly pruned"))
    assert random.ours.endswith("random pruning holds to 41.1%, tickets to 2.9%")
    holds = next(c for c in rows if c.claim.startswith("Reinit falls behind"))
    assert holds.ours == "reinit holds to 26.3%, tickets to 2.9%"


def test_tickets_no_better_than_their_controls_reproduce_nothing_but_the_dense_net(card):
    def flat(r):
        return 98.0 if r == 0 else 97.0

    seeds = [run(flat, lambda r: 10_000, flat, lambda r: 10_000, jitter=j)
             for j in (-0.05, 0.05)]
    rows = card.claims(card.Runs(seeds, None, {}))
    verdicts = {c.claim.split(" (")[0].split(":")[0]: c.verdict for c in rows}
    assert verdicts.pop("Dense LeNet-300-100, test accuracy at early stop") == "reproduced"
    pending = {k for k, v in verdicts.items() if v == "pending"}
    assert pending == {"One-shot pruning finds tickets too; iterative pruning finds smaller ones",
                       "Pruning 10-20% a round beats 40% or more",
                       "Randomly pruned networks learn slower and fall behind the tickets"}
    assert {v for k, v in verdicts.items() if k not in pending} == {"not reproduced"}


def test_unfinished_runs_leave_their_claims_pending(card):
    short = paper_like(card)
    for seed in short.iterative:
        seed["rounds"] = seed["rounds"][:4]
        seed["controls"]["reinit"] = seed["controls"]["reinit"][:3]
        seed["controls"].pop("random_prune", None)
    rows = card.claims(card.Runs(short.iterative, None, {}))
    assert rows[0].verdict == "reproduced"
    assert all(c.verdict == "pending" for c in rows[1:])
    text = card.render(card.Runs(short.iterative, None, {}))
    assert "1 reproduced, 8 pending" in text and "rounds 0-3 of 0-20" in text
    assert "random-prune control, seed 0: not started" in text


def test_the_card_is_regenerated_and_a_changed_result_makes_it_stale(card, tmp_path):
    root = tmp_path / "results"
    for seed, results in enumerate(paper_like(card).iterative):
        path = root / "iterative" / f"seed={seed}" / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(results))
    page = tmp_path / "card.md"
    argv = ["--results", str(root), "--card", str(page), "--figures", str(tmp_path)]
    assert card.main(argv) == 0
    assert (tmp_path / "paper_accuracy.png").is_file()
    assert card.main([*argv, "--check"]) == 0
    path = root / "iterative" / "seed=0" / "results.json"
    results = json.loads(path.read_text())
    results["rounds"][0]["early_stop_test_accuracy"] = 0.9
    path.write_text(json.dumps(results))
    assert card.main([*argv, "--check"]) == 1


def test_the_committed_card_matches_the_committed_results(card):
    assert card.main(["--check"]) == 0, "run: python examples/reproduction_card.py"
    rows = card.claims(card.load_runs())
    text = card.CARD.read_text()
    for row in rows:
        assert row.ours in text and row.verdict in text


def test_a_seed_still_training_waits_until_it_finishes(card):
    """Two finished seeds and a third at round 1: the claims average the two finished."""
    runs = paper_like(card)
    third = json.loads(json.dumps(runs.iterative[1]))
    third["rounds"], third["controls"]["reinit"] = third["rounds"][:2], []
    both = card.claims(runs)
    runs.iterative.append(third)
    assert card.claims(runs) == both
    text = card.render(runs)
    assert "(2 seeds of the iterative" in text and "1 more seed(s) still training" in text
    assert "iterative, seed 2: rounds 0-1 of 0-20" in text


def test_a_dip_at_one_density_does_not_end_holds_to(card):
    """Holds to d%: the last density still within EQUAL of dense, whatever came before
    (the reinit control of seed 0 dips 0.36 points at 80% and recovers)."""
    seeds = paper_like(card).iterative
    for seed in seeds:
        seed["controls"]["reinit"][0]["early_stop_test_accuracy"] = 0.975
    assert card.holds_to(seeds, "reinit") == pytest.approx(100 * density(6), abs=0.05)

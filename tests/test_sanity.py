"""Sanity checks (experiments/sanity.py): each variant's masks and weights, IMP's scores, a
tiny run that leaves its source untouched and resumes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from minilottery.config import LotteryConfig
from minilottery.experiments.sanity import (
    VARIANTS,
    SanityOptions,
    SanityRun,
    imp_scores,
    run_sanity,
    uniform_random_masks,
)
from minilottery.lottery import run_lottery
from minilottery.mask_ops import keep_largest
from minilottery.stored_run import StoredRun
from minilottery.tables import sanity_summary, sanity_table


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("source") / "run"
    config = LotteryConfig(model="lenet300", dataset="digits", width=0.1, iterations=30,
                           eval_every=15, rounds=2, seed=2, controls=())
    run_lottery(config, path, progress=False, log=None)
    return path


def digest(path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def counts(masks) -> dict[str, int]:
    return {n: int(np.count_nonzero(m)) for n, m in masks.items()}


@pytest.mark.parametrize("method", ["imp", "snip"])
def test_each_variant_keeps_what_it_should(source, tmp_path, method):
    run = SanityRun(SanityOptions(source=str(source), method=method, rounds=(2,)),
                    tmp_path / "s", context=None)
    run.context = run.context.quiet()
    masks, scores = run.masks_and_scores(2)
    found, weights = run.variant(2, "as_found", 0)
    assert found is masks
    shuffled, same = run.variant(2, "shuffled", 0)
    assert counts(shuffled) == counts(masks)
    assert all(np.array_equal(same[n], weights[n]) for n in weights)
    assert any(not np.array_equal(shuffled[n], masks[n]) for n in masks)
    inverted, _ = run.variant(2, "inverted", 0)
    assert counts(inverted) == counts(masks)
    for name, mask in masks.items():  # the lowest scores: none above a kept one's
        if 0 < mask.sum() < mask.size:
            assert scores[name][inverted[name]].max() <= scores[name][~inverted[name]].min()
    reinit_masks, fresh = run.variant(2, "reinit", 1)
    assert reinit_masks is masks
    assert any(not np.array_equal(fresh[n], weights[n]) for n in masks)
    random, _ = run.variant(2, "random", 0)
    total = sum(m.size for m in masks.values())
    for mask in random.values():
        assert mask.sum() == max(1, round(sum(counts(masks).values()) / total * mask.size))


def test_imp_scores_rank_the_weights_in_the_order_imp_removed_them(source):
    run = StoredRun(source)
    for r in (1, 2):
        masks = run.masks(r)
        assert all(np.array_equal(a, masks[n])
                   for n, a in keep_largest(imp_scores(run, r), masks).items())


def test_uniform_random_masks_put_every_layer_at_the_overall_density():
    masks = {"a": np.arange(100) < 90, "b": np.arange(300) < 10}  # 100 of 400
    random = uniform_random_masks(masks, 0)
    assert counts(random) == {"a": 25, "b": 75}


def test_a_sanity_run_leaves_its_source_and_resumes(source, tmp_path):
    before = digest(source)
    options = SanityOptions(source=str(source), method="imp", rounds=(1,), seeds=2)
    results = run_sanity(options, tmp_path / "s", progress=False, log=None)
    assert digest(source) == before
    assert len(results["records"]) == 2 * len(VARIANTS)
    # seed 0 of the masks as found is the run's own ticket, trained again
    ticket = StoredRun(source).rounds[1]
    [again] = [r for r in results["records"] if (r["variant"], r["seed"]) == ("as_found", 0)]
    assert again["early_stop_test_accuracy"] == ticket["early_stop_test_accuracy"]
    rows = sanity_summary(results)
    assert [r["variant"] for r in rows] == list(VARIANTS) and all(r["n"] == 2 for r in rows)
    assert "as_found %" in sanity_table(results)
    again = run_sanity(options, tmp_path / "s", progress=False, log=None)
    assert again["records"] == results["records"]


def test_sanity_refuses_bad_options(source, tmp_path):
    with pytest.raises(ValueError, match="method: got 'magic'"):
        run_sanity(SanityOptions(source=str(source), method="magic"), tmp_path / "a",
                   progress=False, log=None)
    with pytest.raises(ValueError, match="seeds: got 0"):
        run_sanity(SanityOptions(source=str(source), seeds=0), tmp_path / "b",
                   progress=False, log=None)
    with pytest.raises(ValueError, match="rounds: got 9"):
        run_sanity(SanityOptions(source=str(source), rounds=(9,)), tmp_path / "c",
                   progress=False, log=None)


def test_plot_of_a_sanity_run_redraws_sanity_png(source, tmp_path, capsys):
    from cli_runner import run_cli

    options = SanityOptions(source=str(source), method="imp", rounds=(1,), seeds=1)
    run_sanity(options, tmp_path / "s", progress=False, log=None)
    code, out, err = run_cli(["plot", str(tmp_path / "s")], capsys)
    assert code == 0, err
    assert (tmp_path / "s" / "sanity.png").is_file() and "sanity.png" in out
    assert not (tmp_path / "s" / "accuracy.png").exists()


@pytest.mark.parametrize("flags, words", [
    (["--rounds", "0"], ["--rounds: got 0", "[1, 2]"]),
    (["--rounds", "99"], ["--rounds: got 99", "[1, 2]"]),
    (["--seeds", "0"], ["--seeds: got 0"])])
def test_sanity_errors_name_the_flag_and_value(source, tmp_path, capsys, flags, words):
    from cli_runner import run_cli

    code, _, err = run_cli(["sanity", "--source", str(source), *flags, "--out",
                            str(tmp_path / "s"), "--no-progress"], capsys)
    assert code == 2 and all(w in err for w in words), err
    assert "no pruned round yet" not in err

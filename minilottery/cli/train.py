"""``minilottery train``: train one network and print its history.

It trains exactly as round 0 of ``minilottery lottery`` with the same flags
does (the same initial weights and the same batch order, drawn from the
round-0 TRAIN stream of seeds.py), so the two report the same numbers.
"""

from __future__ import annotations

from .arguments import add_common, add_config_arguments, config_from_args, resolve_dataset


def register(commands) -> None:
    parser = commands.add_parser("train", help="train one network and print its history")
    add_config_arguments(parser, ("data", "training"))
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..models import summary
    from ..recipe import build_model, make_optimizer, prepare, round_seed
    from ..tables import history_table, percent
    from ..train import train

    resolve_dataset(args)
    config, dataset = prepare(config_from_args(args))
    model = build_model(config, dataset, backend=args.backend)
    print(dataset.describe())
    print(summary(model))
    print(f"{config.optimizer} lr {config.lr}, batch {config.batch_size}, "
          f"{config.iterations} iterations, backend {model.backend.name}")
    result = train(model, dataset, make_optimizer(model, config),
                   iterations=config.iterations, batch_size=config.batch_size,
                   eval_every=config.eval_every, seed=round_seed(config, 0),
                   progress=not args.no_progress)
    print(history_table(result.history))
    print(f"final test accuracy {percent(result.final_test_accuracy, 2)}%; early stop at "
          f"iteration {result.early_stop_iteration} with test accuracy "
          f"{percent(result.early_stop_test_accuracy, 2)}%; {result.seconds:.1f} s "
          f"({1000 * result.seconds / result.iterations:.2f} ms per iteration with evaluation)")
    return 0

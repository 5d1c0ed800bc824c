"""The model zoo: the papers' weight counts, shapes, widths, seeds and errors.

Weight counts are the prunable weights (Linear and Conv2d weights), the
figure the papers report. Each exact count is also written out as the
arithmetic of its architecture, and checked against the paper's rounded
figure (docs/papers.md) within the precision the paper gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from minilottery import nn
from minilottery.models import MODEL_NAMES, count_weights, get_model

CIFAR, MNIST = (3, 32, 32), (1, 28, 28)


def conv(c_in, c_out, k=3):
    return c_in * c_out * k * k


# (name, input shape, exact count from the architecture, paper figure, tolerance, source)
WEIGHT_COUNTS = [
    ("lenet300", MNIST, 784 * 300 + 300 * 100 + 100 * 10, 266_000, 500, "LTH table: 266K"),
    ("conv2", CIFAR, conv(3, 64) + conv(64, 64) + 16 * 16 * 64 * 256 + 256 * 256 + 256 * 10,
     4_300_000, 50_000, "LTH table: 4.3M"),
    ("conv4", CIFAR, conv(3, 64) + conv(64, 64) + conv(64, 128) + conv(128, 128)
     + 8 * 8 * 128 * 256 + 256 * 256 + 256 * 10, 2_400_000, 50_000, "LTH table: 2.4M"),
    # The LTH table says 1.7M; its own architecture with "same" padding gives 2.26M
    # (docs/papers.md: our conv6 builds the 2.26M network), so the yardstick is the arithmetic.
    ("conv6", CIFAR, conv(3, 64) + conv(64, 64) + conv(64, 128) + conv(128, 128)
     + conv(128, 256) + conv(256, 256) + 4 * 4 * 256 * 256 + 256 * 256 + 256 * 10,
     2_260_000, 5_000, "docs/papers.md: 'about 2.26M' with same padding"),
    ("vgg19", CIFAR, conv(3, 64) + conv(64, 64) + conv(64, 128) + conv(128, 128)
     + conv(128, 256) + 3 * conv(256, 256) + conv(256, 512) + 7 * conv(512, 512) + 512 * 10,
     20_000_000, 50_000, "LTH table: 20.0M"),
    # The paper's 274K "ResNet-18" is this shape; 1.2% apart (its count includes more
    # than conv and dense weights), so the tolerance is 2% rather than the rounding.
    ("resnet20", CIFAR, conv(3, 16) + 6 * conv(16, 16) + conv(16, 32) + 5 * conv(32, 32)
     + 16 * 32 + conv(32, 64) + 5 * conv(64, 64) + 32 * 64 + 64 * 10,
     274_000, 274_000 * 0.02, "LTH table: 274K"),
    ("resnet50", CIFAR, 23_467_712, 23_500_000, 50_000, "torchvision ResNet-50 body: 23.5M"),
]


@pytest.mark.parametrize("name, shape, exact, paper, tolerance, source", WEIGHT_COUNTS,
                         ids=[row[0] for row in WEIGHT_COUNTS])
def test_weight_counts_at_width_1(name, shape, exact, paper, tolerance, source):
    model = get_model(name, shape, 10)
    count = count_weights(model)
    assert count == exact
    assert abs(count - paper) <= tolerance, f"{name}: {count:,} against {source}"


def test_exact_counts_quoted_in_the_issue():
    assert WEIGHT_COUNTS[0][2] == 266_200
    assert [row[2] for row in WEIGHT_COUNTS[1:5]] == [4_300_992, 2_425_024, 2_261_184,
                                                      20_024_000]
    assert WEIGHT_COUNTS[5][2] == 270_896


def test_count_weights_leaves_out_biases_and_batchnorm():
    model = get_model("vgg19", (3, 16, 16), 10, width=1 / 16)
    matrices = sum(int(p.size) for _, p in model.named_parameters() if p.ndim >= 2)
    everything = sum(int(p.size) for _, p in model.named_parameters())
    assert count_weights(model) == matrices < everything
    # BatchNorm's scale is called "weight" too, and must not be counted
    assert any(name.endswith(".weight") and p.ndim == 1 for name, p in model.named_parameters())


# Forward passes at small widths -------------------------------------------------------

SMALL = {
    "lenet300": (MNIST, 0.1),
    "conv2": (CIFAR, 1 / 16),
    "conv4": (CIFAR, 1 / 16),
    "conv6": (CIFAR, 1 / 16),
    "vgg19": (CIFAR, 1 / 16),
    "resnet20": (CIFAR, 1 / 8),
    "resnet50": ((3, 16, 16), 1 / 16),
}


def test_every_model_is_covered():
    assert set(SMALL) == set(MODEL_NAMES) == {row[0] for row in WEIGHT_COUNTS}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_and_backward_of_a_batch_of_two(backend, name):
    shape, width = SMALL[name]
    model = get_model(name, shape, 10, width=width, backend=backend)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    y = model.forward(backend.asarray(x))
    assert y.shape == (2, 10) and y.dtype == np.float32
    assert np.isfinite(backend.to_numpy(y)).all()
    dx = model.backward(backend.asarray(np.ones((2, 10), np.float32)))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert {n for n, _ in model.named_grads()} == {n for n, _ in model.named_parameters()}
    model.eval()
    assert model.forward(backend.asarray(x)).shape == (2, 10)


def test_other_class_counts():
    model = get_model("resnet20", (1, 8, 8), 7, width=1 / 8)
    assert model.forward(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 7)
    assert model.fc.params["weight"].shape == (7, 8)


def test_width_scales_every_layer():
    def shapes(name, shape, width):
        return {n: p.shape for n, p in get_model(name, shape, 10, width=width).named_parameters()}

    half, full = shapes("conv2", (3, 8, 8), 0.5), shapes("conv2", (3, 8, 8), 1.0)
    assert full["features.0.weight"] == (64, 3, 3, 3)
    assert half["features.0.weight"] == (32, 3, 3, 3)
    assert half["features.2.weight"] == (32, 32, 3, 3)
    assert full["classifier.1.weight"] == (256, 4 * 4 * 64)
    assert half["classifier.1.weight"] == (128, 4 * 4 * 32)
    assert half["classifier.5.weight"] == full["classifier.5.weight"][:1] + (128,)
    lenet = shapes("lenet300", MNIST, 0.5)
    assert [lenet[f"{i}.weight"] for i in (1, 3, 5)] == [(150, 784), (50, 150), (10, 50)]
    resnet = shapes("resnet20", CIFAR, 0.5)
    assert resnet["stem.0.weight"] == (8, 3, 3, 3)
    assert resnet["layer3.2.conv2.weight"] == (32, 32, 3, 3)
    assert resnet["fc.weight"] == (10, 32)
    assert count_weights(get_model("conv4", CIFAR, 10, width=0.5)) < 0.3 * 2_425_024


def test_parameter_names_follow_pytorch():
    names = {name: [n for n, _ in get_model(name, shape, 10, width=w).named_parameters()]
             for name, (shape, w) in SMALL.items()}
    assert names["lenet300"] == ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight",
                                 "5.bias"]
    assert names["conv2"][:2] == ["features.0.weight", "features.0.bias"]
    assert names["conv2"][-2:] == ["classifier.5.weight", "classifier.5.bias"]
    assert names["vgg19"][:3] == ["features.0.weight", "features.1.weight", "features.1.bias"]
    assert names["resnet20"][0] == "stem.0.weight"
    assert "layer2.0.shortcut.0.weight" in names["resnet20"]
    assert "layer1.0.conv3.weight" in names["resnet50"]
    for name in MODEL_NAMES:
        assert names[name][-2:] == [f"{names[name][-2].rsplit('.', 1)[0]}.weight",
                                    f"{names[name][-2].rsplit('.', 1)[0]}.bias"]


# Seeds --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_seed_fixes_the_initial_weights(name):
    shape, width = SMALL[name]
    a = get_model(name, shape, 10, width=width, seed=3).state_dict()
    b = get_model(name, shape, 10, width=width, seed=3).state_dict()
    c = get_model(name, shape, 10, width=width, seed=4).state_dict()
    assert a.keys() == b.keys() == c.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    weights = [key for key in a if a[key].ndim >= 2]
    assert weights and all(not np.array_equal(a[k], c[k]) for k in weights)


def test_every_backend_starts_from_the_same_weights(backend):
    on_backend = get_model("resnet20", (3, 8, 8), 10, width=1 / 8, seed=5, backend=backend)
    on_host = get_model("resnet20", (3, 8, 8), 10, width=1 / 8, seed=5, backend="numpy")
    for key, value in on_host.state_dict().items():
        np.testing.assert_array_equal(on_backend.state_dict()[key], value, err_msg=key)


def test_initial_weights_have_the_papers_scale():
    """Gaussian Glorot for LeNet and Conv-n, Kaiming normal for ResNet and VGG."""
    lenet = get_model("lenet300", MNIST, 10, seed=0).state_dict()  # host copies
    std = float(np.std(lenet["1.weight"]))
    assert std == pytest.approx(np.sqrt(2 / (784 + 300)), rel=0.02)
    assert not np.any(lenet["1.bias"])
    resnet = get_model("resnet20", CIFAR, 10, seed=0).state_dict()
    std = float(np.std(resnet["layer3.1.conv1.weight"]))
    assert std == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.02)


# Errors ---------------------------------------------------------------------------------


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match=r"'alexnet'.*lenet300"):
        get_model("alexnet", CIFAR, 10)


@pytest.mark.parametrize("name, shape, match", [
    ("conv2", (32, 32), r"input_shape.*\(32, 32\)"),
    ("lenet300", (1, 28, 28, 1), r"input_shape.*\(1, 28, 28, 1\)"),
    ("vgg19", (3, 8, 8), r"vgg19.*\(3, 8, 8\).*16"),
    ("resnet50", (3, 4, 4), r"resnet50.*\(3, 4, 4\)"),
    ("conv6", (3, 4, 4), r"conv6.*\(3, 4, 4\)"),
    ("resnet20", (3, 0, 8), r"resnet20.*input_shape"),
])
def test_bad_input_shape_is_named(name, shape, match):
    with pytest.raises(ValueError, match=match):
        get_model(name, shape, 10)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_classes": 1}, "num_classes"),
    ({"width": 0.0}, "width"),
    ({"width": float("nan")}, "width"),
    ({"dropout": 1.0}, "dropout"),
])
def test_bad_arguments_are_named(kwargs, match):
    args = {"num_classes": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        get_model("lenet300", MNIST, **args)


def test_dropout_adds_dropout_layers():
    model = get_model("lenet300", MNIST, 10, width=0.1, dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 2
    assert [n for n, _ in model.named_parameters()][::2] == ["1.weight", "4.weight", "7.weight"]


@pytest.mark.parametrize("name", ["lenet300", "conv2", "vgg19", "resnet20"])
def test_dropout_changes_no_initial_weight(name):
    """Dropout draws its masks from its own stream: the same seed, the same weights."""
    plain = get_model(name, (1, 16, 16), 10, width=0.25, seed=3).state_dict()
    with_dropout = get_model(name, (1, 16, 16), 10, width=0.25, seed=3, dropout=0.5).state_dict()
    assert len(plain) == len(with_dropout)
    for a, b in zip(plain.values(), with_dropout.values(), strict=True):
        np.testing.assert_array_equal(a, b)

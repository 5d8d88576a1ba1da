"""Stacked MNIST: mode ids, the metrics' definitions, and the real-digit sanity check of the issue."""
import numpy as np
import pytest

from jgan import features
from jgan.core.errors import UserError
from jgan.data import stacked as stacked_source
from jgan.data.embedded import load_embedded_arrays
from jgan.metrics import stacked_mnist


def test_mode_metrics_on_known_histograms():
  uniform = np.repeat(np.arange(1000), 3)
  assert stacked_mnist.mode_metrics(uniform) == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12),
                                                 "num_samples": 3000}
  collapsed = stacked_mnist.mode_metrics(np.full(500, 123))
  assert collapsed["modes"] == 1 and collapsed["kl"] == pytest.approx(np.log(1000))
  assert stacked_mnist.modes_from_digits(np.array([[1, 2, 3], [9, 0, 0]])).tolist() == [123, 900]


def test_stacking_puts_one_digit_per_channel():
  digits = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 251
  picks = stacked_source.stacked_triples(7, len(digits), seed=1)
  stacked = stacked_source.stack(digits.astype(np.uint8), picks)
  assert stacked.shape == (7, 28, 28, 3) and stacked.dtype == np.uint8
  for c in range(3):
    np.testing.assert_array_equal(stacked[..., c], digits[picks[:, c]])


def test_real_stacked_digits_cover_about_1000_modes_with_kl_near_zero():
  digits, labels = load_embedded_arrays()
  picks = stacked_source.stacked_triples(stacked_mnist.NUM_SAMPLES, len(digits), seed=0)
  stacked = stacked_source.stack(digits, picks)
  lenet = features.get("lenet-mnist")
  result = stacked_mnist.stacked_mnist_metrics(stacked, lambda x: np.argmax(lenet(x)["logits"], axis=1))
  # 26 samples per mode on average: every mode is hit; KL ~ sampling noise 999/52000 plus classifier errors.
  assert result["modes"] >= 995
  assert result["kl"] < 0.05
  # With the true labels the classifier's errors vanish: the KL left is sampling noise alone.
  truth = stacked_mnist.mode_metrics(stacked_mnist.modes_from_digits(labels[picks].astype(np.int64)))
  assert abs(result["kl"] - truth["kl"]) < 0.02


def test_bad_stacked_inputs_are_user_errors():
  with pytest.raises(UserError, match="uint8"):
    stacked_mnist.stacked_mnist_metrics(np.zeros((4, 28, 28, 1), np.uint8), lambda x: x)
  with pytest.raises(UserError, match="empty"):
    stacked_mnist.stacked_mnist_metrics(np.zeros((0, 28, 28, 3), np.uint8), lambda x: x)


def test_confident_shares_by_hand():
  from jgan.metrics.classes import confident_shares
  # softmax([5, 0, 0]) = 0.9867 (sure), softmax([1, 0, 0]) = 0.576 (unsure), softmax([0, 0, 9]) = 0.9998 (sure)
  logits = np.array([[5.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 9.0], [6.0, 0.0, 0.0]])
  scores = confident_shares(logits, 3)
  assert scores["confident"] == 0.75
  assert scores["confident_min_share"] == 0.0 and abs(scores["confident_max_share"] - 2 / 3) < 1e-12
  assert confident_shares(np.zeros((2, 3)), 3) == {"confident": 0.0, "confident_min_share": 0.0,
                                                   "confident_max_share": 0.0}


def test_the_mode_kl_splits_into_channel_shares_and_dependence():
  """By hand: channel 0 all 0s or 1s, channels 1, 2 copy channel 0 -> marginals KL log 5 each, and the
  dependence is the mutual information of identical channels, 2 log 2; the total is log(1000 / 2)."""
  first = np.repeat([0, 1], 50)
  digits = np.stack([first, first, first], -1)
  out = stacked_mnist.channel_metrics(digits)
  assert out["channel_kl"] == pytest.approx(3 * np.log(5))
  assert out["dependence_kl"] == pytest.approx(2 * np.log(2))
  assert out["channel_kl"] + out["dependence_kl"] == pytest.approx(stacked_mnist.mode_metrics(
      stacked_mnist.modes_from_digits(digits))["kl"])
  assert (out["share_min"], out["share_max"]) == (0.0, 0.5)
  independent = np.stack(np.meshgrid(np.arange(10), np.arange(10), np.arange(10), indexing="ij"), -1).reshape(-1, 3)
  out = stacked_mnist.channel_metrics(independent)
  assert out["channel_kl"] == pytest.approx(0.0, abs=1e-12) and out["dependence_kl"] == pytest.approx(0.0, abs=1e-12)



def test_code_purity_by_hand():
  """Four values of a code read against three classes: value 0 always draws class 2; value 1 draws class 2 three
  times in four; value 2 draws class 0; value 3 splits 1 / 1 between classes 1 and 0."""
  from jgan.metrics.classes import code_purity
  codes = [0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3]
  predicted = [2, 2, 2, 2, 2, 1, 0, 0, 0, 1, 0]
  scores = code_purity(codes, predicted, num_codes=4, num_classes=3)
  assert scores["code_top_class"] == [2, 2, 0, 0]   # a tie goes to the lower class (numpy's argmax)
  assert scores["code_top_share"] == [1.0, 0.75, 1.0, 0.5]
  assert scores["code_purity"] == pytest.approx((1 + 0.75 + 1 + 0.5) / 4)
  assert scores["code_purity_min"] == 0.5
  assert scores["code_classes"] == 2   # values 0 and 1 share class 2, values 2 and 3 class 0


def test_code_purity_of_grouped_codes_reports_each_group_and_the_fewest_classes():
  from jgan.metrics.classes import code_purity
  codes = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
  predicted = np.array([[5, 7], [6, 7], [5, 7], [6, 7]])   # group 0: values draw 5 and 6; group 1: both draw 7
  scores = code_purity(codes, predicted, num_codes=2, num_classes=10)
  assert scores["code_top_class"] == [[5, 6], [7, 7]]
  assert scores["code_top_share"] == [[1.0, 1.0], [1.0, 1.0]]
  assert scores["code_purity"] == 1.0 and scores["code_classes"] == 1


def test_code_purity_refuses_a_value_without_samples_and_mismatched_shapes():
  from jgan.metrics.classes import code_purity
  with pytest.raises(UserError, match="code value 2 drew no sample"):
    code_purity([0, 1, 3], [0, 0, 0], num_codes=4, num_classes=10)
  with pytest.raises(UserError, match="must be equal"):
    code_purity([0, 1], [0], num_codes=2, num_classes=10)


def test_code_purity_of_real_stacks_drawn_with_their_own_digits_as_codes():
  """Independent check of the per-channel reading: stacks of held-out digits whose 'code' is their own digits
  (code g = channel g's label) have every value on its own digit, pure to lenet-mnist's held-out accuracy."""
  from jgan.data import splits
  from jgan.data.stacked import stack, stacked_triples
  from jgan.eval.api import code_purity_scores
  from jgan.features import lenet
  digits, labels = load_embedded_arrays()
  held = splits.heldout_indices(len(digits))
  triples = stacked_triples(3000, len(held), 0)
  images = stack(digits[held], triples)
  channel_labels = labels[held][triples].astype(np.int64)   # (600, 3): the digit in channel g
  codes = channel_labels @ np.array([1, 10, 100])           # code g = channel g's digit (least significant first)
  scores = code_purity_scores(images, codes, num_classes=1000, code_groups=3)
  assert scores["code_channels"] == [0, 1, 2]
  assert scores["code_top_class"] == [list(range(10))] * 3
  assert scores["code_classes"] == 10
  # The mean over values is lenet-mnist's per-digit accuracy averaged over digits: near its held-out accuracy
  # (0.987 on these 1,000 digits, one pass each); the hardest digit reads at 0.949 on 3,000 stacks.
  held_out_accuracy = float(lenet.load_params()[1]["held_out_accuracy"])
  assert abs(scores["code_purity"] - held_out_accuracy) < 0.01
  assert 0.9 < scores["code_purity_min"] < scores["code_purity"]


def test_code_purity_matches_each_code_to_the_channel_it_draws():
  """Nothing ties code g to channel g: codes that draw channels 2, 0, 1 are found there, equally pure."""
  from jgan.data import splits
  from jgan.data.stacked import stack, stacked_triples
  from jgan.eval.api import code_purity_scores
  digits, labels = load_embedded_arrays()
  held = splits.heldout_indices(len(digits))
  triples = stacked_triples(1000, len(held), 1)
  images = stack(digits[held], triples)
  channel_labels = labels[held][triples].astype(np.int64)
  straight = code_purity_scores(images, channel_labels @ np.array([1, 10, 100]), 1000, 3)
  moved = code_purity_scores(images, channel_labels[:, [2, 0, 1]] @ np.array([1, 10, 100]), 1000, 3)
  assert moved["code_channels"] == [2, 0, 1]
  assert moved["code_purity"] == pytest.approx(straight["code_purity"], abs=1e-12) and moved["code_classes"] == 10

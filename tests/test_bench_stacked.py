"""The Stacked-MNIST benchmark: its rows (mean +- std by hand), its table, and a run trained, scored and re-read."""
import json
import os

import pytest

from jgan.bench import stacked as bench
from jgan.core.errors import UserError


def _scores(modes, kl, channel_kl, dependence_kl, share_min, share_max):
  return dict(modes=modes, kl=kl, channel_kl=channel_kl, dependence_kl=dependence_kl, share_min=share_min,
              share_max=share_max)


def test_summary_row_is_mean_and_population_std_over_seeds():
  runs = [(_scores(1000, 0.10, 0.06, 0.04, 0.08, 0.12), 600.0),
          (_scores(990, 0.30, 0.20, 0.10, 0.05, 0.11), 1000.0)]
  # By hand: modes 995 +- 5, KL 0.2 +- 0.1, channels 0.13 +- 0.07, dependence 0.07 +- 0.03,
  # shares over both seeds 5%..12%, 800 s per run.
  assert bench.summary_row("jgan", runs) == ("jgan", "995.0 +- 5.0", "0.200 +- 0.100", "0.130 +- 0.070",
                                              "0.070 +- 0.030", "5.0-12.0%", "", "800")
  runs[0][0]["code_purity"], runs[1][0]["code_purity"] = 0.9, 0.5   # a recipe with codes: 0.7 +- 0.2
  assert bench.summary_row("jgan", runs)[6] == "0.700 +- 0.200"


def test_table_has_the_rows_the_real_data_and_the_papers():
  row = bench.summary_row("dcgan", [(_scores(942, 0.648, 0.611, 0.037, 0.004, 0.286), 1200.0)])
  table = bench.format_table([row], _scores(1000, 0.034, 0.013, 0.020, 0.085, 0.114), num_seeds=1)
  lines = table.splitlines()
  assert lines[0] == "Stacked MNIST, 26,000 samples per run, 1 seeds (mean +- std)"
  assert lines[3] == "| dcgan | 942.0 +- 0.0 | 0.648 +- 0.000 | 0.611 +- 0.000 | 0.037 +- 0.000 | 0.4-28.6% |  | 1200 |"
  assert lines[4] == "| real data (held-out digits, 26,000 stacks) | 1000 | 0.034 | 0.013 | 0.020 | 8.5-11.4% | | |"
  assert [line.split(" | ")[0] for line in lines[5:]] == ["| " + name for name, _, _ in bench.ANCHORS]
  assert all(line.count("|") == lines[2].count("|") for line in lines[1:])   # every row has every column


def test_unknown_recipe_is_one_line_naming_the_known_ones():
  bench.check_recipes(["dcgan", "jgan", "pacgan"])
  with pytest.raises(UserError, match="unknown wgan; use dcgan, jgan, pacgan"):
    bench.check_recipes(["jgan", "wgan"])


def test_a_run_is_trained_scored_and_then_only_read(tmp_path, tfds_dir):
  from experiments.configs import stacked_mnist
  config = stacked_mnist.get_config("smoke")
  config.data.data_dir = tfds_dir
  config.log.tensorboard = False
  config.eval.num_samples = 200
  workdir = str(tmp_path)
  scores, seconds = bench.score_run(config, workdir)
  assert 1 <= scores["modes"] <= 200 and scores["kl"] >= 0 and seconds > 0
  assert scores["kl"] == pytest.approx(scores["channel_kl"] + scores["dependence_kl"], abs=1e-9)
  # The recipe's three codes, one per channel, are read back per channel: 10 values each.
  assert [len(values) for values in scores["code_top_class"]] == [10, 10, 10]
  assert 0.1 <= scores["code_purity_min"] <= scores["code_purity"] <= 1 and 1 <= scores["code_classes"] <= 10
  result_path = os.path.join(workdir, bench.RESULT_FILE)
  written = os.stat(result_path).st_mtime_ns
  assert bench.score_run(config, workdir) == (scores, seconds)          # finished: re-read, not re-scored
  assert os.stat(result_path).st_mtime_ns == written
  # A result scored before the KL was split, or before the codes were read back, gets scored again, to the same
  # numbers (same seed, same samples).
  for missing in ("channel_kl", "code_purity"):
    with open(result_path) as f:
      result = json.load(f)
    del result["scores"][missing]
    with open(result_path, "w") as f:
      json.dump(result, f)
    rescored, again = bench.score_run(config, workdir)
    assert again == seconds and rescored == pytest.approx(scores)
    assert missing in rescored

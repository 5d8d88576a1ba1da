"""The report of a run (or several, overlaid): losses, D(x)/D(G(z)), gradient norms, diversity,
classes, evaluation scores, sample strips and the health findings, as one HTML page of PNG plots.

    python -m experiments.report --workdir=runs/dcgan                   # runs/dcgan/report/index.html
    python -m experiments.report --workdir=runs/a --compare runs/b runs/c [--out=cmp/]
"""
from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory written by a training experiment.")
_COMPARE = flags.DEFINE_list("compare", [], "More run directories to overlay (comma-separated, or listed after it).")
_OUT = flags.DEFINE_string("out", "", "Report directory (default: WORKDIR/report).")


def main(argv):
  if not _WORKDIR.value:
    raise UserError("--workdir is required")
  from jgan.eval import report
  others = [*_COMPARE.value, *argv[1:]]
  path = report.write_report([_WORKDIR.value, *others], _OUT.value or None)
  print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)

"""The documentation (docs/, mkdocs.yml): every Python block runs, every code link resolves, the site builds.

Python blocks are those fenced ```python; each runs on its own in a fresh namespace (pages write them
self-contained, with tiny arrays or :smoke configs). Other fences (bash, text, mermaid) are not run.
Links to repository files (`jgan/...`, `experiments/...`, `scripts/...`) must name existing files, and
symbol references `jgan.module:name` (in backticks) must import.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))

FENCE = re.compile(r"^```(\w[\w-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
LINK = re.compile(r"\]\(((?:jgan|experiments|scripts)/[^)#\s]+)(?:#[^)]*)?\)")
SYMBOL = re.compile(r"`((?:jgan|experiments)(?:\.\w+)+):(\w+)`")
REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"(https?:)?//", re.I)


def python_blocks():
  for page in PAGES:
    text = page.read_text()
    for i, match in enumerate(m for m in FENCE.finditer(text) if m.group(1) == "python"):
      line = text[:match.start()].count("\n") + 1
      yield pytest.param(page.name, line, match.group(2), id=f"{page.stem}-{i}-L{line}")


def test_pages_have_python_blocks():
  assert len(list(python_blocks())) >= 20


@pytest.mark.parametrize("page,line,code", list(python_blocks()))
def test_python_block_runs(page, line, code, monkeypatch):
  monkeypatch.chdir(REPO)   # snippets name experiments.configs.* and repository paths
  with contextlib.redirect_stdout(io.StringIO()):
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__docs__"})


def _page_links():
  for page in PAGES:
    for target in LINK.findall(page.read_text()):
      yield page, target


def test_code_links_exist():
  links = list(_page_links())
  assert links, "no links to the code: the pattern is out of date"
  for page, target in links:
    path = (DOCS / target) if target.startswith("scripts/") else (REPO / target)
    assert path.is_file(), f"{page.name}: link to missing file {target}"


def test_symbol_references_import():
  refs = [(page, module, name) for page in PAGES for module, name in SYMBOL.findall(page.read_text())]
  assert len(refs) >= 30
  for page, module, name in refs:
    mod = importlib.import_module(module)
    assert hasattr(mod, name), f"{page.name}: {module} has no {name}"


def test_symbol_links_point_at_their_module():
  """[`jgan.a.b:f`](jgan/a/b.py): the link is the file of the module named in the text."""
  pattern = re.compile(r"\[`((?:jgan|experiments)(?:\.\w+)+):\w+`\]\(([^)]+)\)")
  for page in PAGES:
    for module, target in pattern.findall(page.read_text()):
      expected = {module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"}
      assert target in expected, f"{page.name}: {module} links to {target}"


def test_snippet_includes_exist():
  for page in PAGES:
    for include in re.findall(r'^--8<-- "([^"]+)"', page.read_text(), re.M):
      assert (DOCS / include).is_file(), f"{page.name}: missing include {include} (run docs/scripts)"


def test_site_builds_strictly_and_offline(tmp_path):
  pytest.importorskip("mkdocs")
  pytest.importorskip("material")
  site = tmp_path / "site"
  result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
  assert result.returncode == 0, result.stderr[-3000:]
  html = list(site.glob("*.html"))
  assert len(html) >= 10
  for page in html:
    text = page.read_text()
    assert not REMOTE.search(text), f"{page.name} loads a remote script or stylesheet"
  theory = (site / "theory.html").read_text()
  assert 'class="arithmatex"' in theory and "vendor/mathjax/tex-chtml.js" in theory
  assert 'class="mermaid"' in (site / "flowcharts.html").read_text()
  assert (site / "vendor" / "mermaid" / "mermaid.min.js").stat().st_size > 1_000_000
  assert (site / "vendor" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
  assert (site / "jgan" / "objectives" / "losses.py").is_file()


def test_family_asset_marks_cleared_health_findings(tmp_path):
  """make_assets rebuilds the monitor's lines from health.jsonl and says which episodes cleared."""
  import json

  from docs.scripts import make_assets
  config = {"seed": 0, "train": {"num_steps": 30, "batch_size": 4, "loss": "non_saturating"},
            "model": {"name": "dcgan", "g_width": 8, "d_width": 8}}
  (tmp_path / "config.json").write_text(json.dumps(config))
  (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 30, "d_loss": 1.25}) + "\n")
  events = [{"step": 10, "kind": "low_diversity", "message": "collapsing"},
            {"step": 20, "kind": "low_diversity", "episode": "end"},
            {"step": 25, "kind": "mode_dropping", "message": "a mode is gone"}]
  (tmp_path / "health.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
  text = make_assets.describe("dcgan", str(tmp_path))
  assert "health: step 10: low_diversity: collapsing (cleared by step 20)" in text
  assert "health: step 25: mode_dropping: a mode is gone\n" in text
  assert "| `d_loss` | 1.250 |" in text
  assert "Run: 30 of 30 generator steps, batch 4" in text

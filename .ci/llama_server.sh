#!/usr/bin/env bash
# Prints the path of a llama.cpp llama-server for the real-engine tests, building it on first
# use. It is built from the llama.cpp that llama-cpp-python's source release vendors (the
# version installed in the venv), and only that target: no tests, examples or other tools, no
# web UI (nothing downloaded by the build), static libraries so the binary stands alone. It is
# cached outside the repository, one binary per llama-cpp-python version, so a warm run (or a
# fresh clone on the same machine) skips the build. Build output goes to stderr; stdout is the
# path alone. Usage: .ci/llama_server.sh [PYTHON] (default .venv/bin/python).
set -euo pipefail

python="${1:-.venv/bin/python}"
version="$("$python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lsp-fim/llama-server/$version"
binary="$cache/llama-server"

if [ ! -x "$binary" ]; then
    for tool in cmake make c++; do
        command -v "$tool" >/dev/null || { echo "$0: $tool is needed to build llama-server" >&2; exit 1; }
    done
    # One compile job per core: an unbounded make -j on 2 cores reached load 80 and 10 GB.
    jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "building llama-server from llama-cpp-python $version's llama.cpp ($jobs jobs) into $cache" >&2
    "$python" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$version" -d "$work" >&2
    tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
    cmake -S "$work/llama_cpp_python-$version/vendor/llama.cpp" -B "$work/build" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF >&2
    cmake --build "$work/build" --target llama-server -j "$jobs" >&2
    mkdir -p "$cache"
    cp "$work/build/bin/llama-server" "$binary.partial"
    mv -f "$binary.partial" "$binary"  # a build cut short never passes for a cached binary
fi
"$binary" --version >&2  # fails loudly on a binary that does not run here
echo "$binary"

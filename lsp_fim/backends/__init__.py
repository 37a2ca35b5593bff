"""Token streams from an inference engine: llama-cpp-python in-process (HTTP engines later)."""

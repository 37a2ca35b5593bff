"""Token streams from an inference engine: llama-cpp-python in-process, or an engine over HTTP
(llama-server, OpenAI-compatible)."""

"""Model backends: embedders (``embed``, ``clip``), rerankers (``rerank``), LLMs (``llm``) and vision models
(``vision``), each named by a ``kind:target`` spec (``registry``) and given the same settings (``options``: where
local models run, the API key of model servers). Nothing is imported here: a backend's libraries (torch, httpx)
load only when one is built."""

"""The local sentence-transformers model run by ONNX Runtime: the same vectors, faster.

A sentence-transformers model of the BERT family (the bundled all-MiniLM-L6-v2 among them) is
a transformer, mean pooling over the attention mask and L2 normalisation. Here the transformer
runs as an ONNX graph in ONNX Runtime, the tokenizer is the model's own `tokenizer.json` read by
`tokenizers` (Rust), and pooling and normalisation are numpy: no torch in the process.

The graph is exported from the model once, at first use, into a cache directory
(`default_onnx_cache()/<key>/model.onnx` unless `EMBEDDING_CACHE` says otherwise; `key` derived
from the model's files; shared by every `VELOCITAS_HOME` of the user): that
export needs torch, transformers and the `onnx` package, all installed with the analyst, and no
network. Before it is kept, the exported graph must give vectors with cosine >= 0.9999 to
sentence-transformers' own on probe texts of several lengths (padding included); otherwise
`OnnxUnavailable` is raised and the caller falls back to sentence-transformers.

Texts are batched by length (sorted by token count, then cut into batches): a batch pads to its
longest text, so sorting keeps padding, which costs as much as real tokens, near zero.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

__all__ = [
    "EXPORT_FORMAT",
    "OnnxSentenceEmbeddings",
    "OnnxUnavailable",
    "default_onnx_cache",
    "onnx_graph",
]

log = logging.getLogger(__name__)

EXPORT_FORMAT = "velocitas-onnx-sbert/1"
"""Changes whenever the export below changes, so older cached graphs are not reused."""

_PROBES = (
    "Apple shares jump after record iPhone sales",
    "x",
    "Central bank holds rates; markets shrug as bond yields edge lower across the curve " * 3,
)
_MIN_PROBE_COSINE = 0.9999


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime, the exporter or the exported graph cannot serve this model."""


class OnnxSentenceEmbeddings(Embeddings):
    """A sentence-transformers model directory served by ONNX Runtime (see the module doc)."""

    def __init__(self, model_path: str, cache_dir: Path, *, batch_size: int = 64) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnavailable(f"onnxruntime or tokenizers is not installed: {exc}") from exc
        self.model_path = model_path
        self.batch_size = batch_size
        config = _sentence_config(Path(model_path))
        self.max_seq_length = int(config.get("max_seq_length") or 512)
        self._lower = bool(config.get("do_lower_case"))
        self._pad_id = _pad_token_id(Path(model_path))
        tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer = tokenizer
        graph = onnx_graph(model_path, cache_dir)
        self.graph_path = str(graph)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dimension = int(self.embed_array(["dimension probe"]).shape[1])

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows, in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # As sentence-transformers tokenizes: stripped (and lower-cased if the model says so).
        cleaned = [str(t).strip() for t in texts]
        if self._lower:
            cleaned = [t.lower() for t in cleaned]
        ids = [encoding.ids for encoding in self._tokenizer.encode_batch(cleaned)]
        order = np.argsort([len(row) for row in ids], kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(ids), self.batch_size):
            chosen = order[start : start + self.batch_size]
            vectors = self._run([ids[i] for i in chosen])
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[chosen] = vectors
        assert out is not None
        return out

    def _run(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return _mean_pool_normalise(hidden, mask)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()


def _mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' `Pooling(mean)` then `Normalize`, in float32."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return np.asarray(pooled / norms, dtype=np.float32)


def _sentence_config(model_dir: Path) -> dict[str, Any]:
    """The model's `sentence_bert_config.json`; refuses a model that is not transformer + mean
    pooling (+ normalisation), which is all this runtime reproduces."""
    modules_file = model_dir / "modules.json"
    if not (model_dir / "tokenizer.json").is_file() or not modules_file.is_file():
        raise OnnxUnavailable(f"{model_dir}: no tokenizer.json or modules.json")
    kinds = [m.get("type", "") for m in json.loads(modules_file.read_text())]
    expected = ["models.Transformer", "models.Pooling", "models.Normalize"]
    if len(kinds) != 3 or not all(k.endswith(e) for k, e in zip(kinds, expected, strict=True)):
        raise OnnxUnavailable(f"{model_dir}: modules {kinds} are not transformer, pooling, norm")
    pooling_dir = model_dir / json.loads(modules_file.read_text())[1].get("path", "")
    pooling_file = pooling_dir / "config.json"
    if pooling_file.is_file():
        pooling = json.loads(pooling_file.read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            value for key, value in pooling.items() if key.startswith("pooling_mode_")
            and key != "pooling_mode_mean_tokens"
        ):  # fmt: skip
            raise OnnxUnavailable(f"{model_dir}: pooling is not plain mean pooling")
    config_file = model_dir / "sentence_bert_config.json"
    return json.loads(config_file.read_text()) if config_file.is_file() else {}


def _pad_token_id(model_dir: Path) -> int:
    config = json.loads((model_dir / "config.json").read_text())
    return int(config.get("pad_token_id") or 0)


# ---------------------------------------------------------------------------------------------
# The exported graph, cached


def default_onnx_cache() -> Path:
    """`$XDG_CACHE_HOME/velocitas/onnx` (`~/.cache/velocitas/onnx` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "velocitas" / "onnx"


def onnx_graph(model_path: str, cache_dir: Path) -> Path:
    """The model's ONNX graph under `cache_dir`, exported (and checked) on first use.

    One process exports while others wait on a lock; the file appears whole (renamed into
    place) or not at all.
    """
    folder = cache_dir / _cache_key(Path(model_path))
    graph = folder / "model.onnx"
    if graph.is_file():
        return graph
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "export.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if graph.is_file():  # another process exported it while we waited
            return graph
        log.info("exporting %s to ONNX in %s (once)", model_path, folder)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".onnx.part")
        os.close(handle)
        try:
            _export(model_path, Path(temporary))
            os.replace(temporary, graph)
        finally:
            Path(temporary).unlink(missing_ok=True)
    return graph


def _cache_key(model_dir: Path) -> str:
    """Digest of what the graph depends on: the export format, the model's configuration and
    its weights (file size and modification time, not read: hashing 90 MB on every load would
    cost more than it guards)."""
    digest = hashlib.sha256(EXPORT_FORMAT.encode())
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        path = model_dir / name
        digest.update(name.encode() + (path.read_bytes() if path.is_file() else b"-"))
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _export(model_path: str, target: Path) -> None:
    """Trace the model's transformer into `target` and check it against sentence-transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise OnnxUnavailable(f"cannot export to ONNX: {exc}") from exc

    reference = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    transformer: Any = reference[0].auto_model
    transformer.eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = reference.tokenizer(
        ["a first probe sentence", "second"], padding=True, return_tensors="pt"
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter: the check below rules
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in names),
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    _check(model_path, target, reference)


def _check(model_path: str, graph: Path, reference: Any) -> None:
    expected = reference.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
    folder = graph.parent
    # A session over the candidate file: build one through the class on a scratch cache entry.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    tokenizer = reference.tokenizer
    batch = tokenizer(
        [p.strip() for p in _PROBES],
        padding=True,
        truncation=True,
        max_length=reference.max_seq_length,
        return_tensors="np",
    )
    feed = {i.name: np.asarray(batch[i.name], dtype=np.int64) for i in session.get_inputs()}
    (hidden,) = session.run(["last_hidden_state"], feed)
    got = _mean_pool_normalise(hidden, feed["attention_mask"])
    cosine = (got * np.asarray(expected, dtype=np.float32)).sum(axis=1)
    if float(cosine.min()) < _MIN_PROBE_COSINE:
        raise OnnxUnavailable(
            f"{model_path}: the exported graph's vectors differ (cosine {cosine.min():.6f}) "
            f"from sentence-transformers'; not kept in {folder}"
        )


def main() -> None:
    """`python -m analyst.onnx_embeddings`: export the configured local model's graph now, so
    that no later command pays for it (scripts/bootstrap runs this once per install)."""
    from analyst.embeddings import bundled_model_path
    from analyst.settings import BUNDLED_MODEL, get_analyst_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_analyst_settings()
    spec = settings.embedding_model
    if spec.startswith("python:") or settings.embedding_runtime == "sentence-transformers":
        print(f"nothing to export: EMBEDDING_MODEL={spec}, runtime {settings.embedding_runtime}")
        return
    path = bundled_model_path() if spec == BUNDLED_MODEL else spec
    cache = settings.embedding_cache or default_onnx_cache()
    try:
        _sentence_config(Path(path))
        print(f"ONNX graph of {spec}: {onnx_graph(path, cache)}")
    except OnnxUnavailable as exc:
        print(f"not exported ({exc}); the analyst will use sentence-transformers")


if __name__ == "__main__":
    main()

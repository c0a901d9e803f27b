"""Checkpoints and shipped weights as safetensors: tensors plus JSON metadata.

Loading never unpickles anything, so a checkpoint from an untrusted source cannot
run code. Writes are atomic, so a training run killed mid-save keeps its previous
checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from eqrobot.io.atomic import atomic_write_bytes

_META_KEY = "eqrobot"


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> Path:
    """Save tensors (e.g. a ``state_dict``) and JSON-serialisable ``meta`` (config, step, metrics)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    blob = st_save(tensors, metadata={_META_KEY: json.dumps(meta or {})})
    return atomic_write_bytes(path, blob)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, meta)``; raises ``ValueError`` naming the file when it is not a valid checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        meta = json.loads(_read_metadata(data).get(_META_KEY, "{}"))
    except (SafetensorError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a valid eqrobot checkpoint ({e})") from e
    return {k: v.to(device) for k, v in tensors.items()}, meta


def _read_metadata(data: bytes) -> dict[str, str]:
    # safetensors layout: 8-byte little-endian header length, then a JSON header.
    if len(data) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return header.get("__metadata__", {}) or {}


def optimizer_tensors(opt: torch.optim.Optimizer, prefix: str = "optim.") -> dict[str, torch.Tensor]:
    """An optimizer's per-parameter state as named tensors, to store beside the weights."""
    flat = {}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{prefix}{i}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return flat


def without_optimizer(tensors: dict[str, torch.Tensor], prefix: str = "optim.") -> dict[str, torch.Tensor]:
    """The weights of a checkpoint that also holds what ``optimizer_tensors`` stored (a resumable one)."""
    return {k: v for k, v in tensors.items() if not k.startswith(prefix)}


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           prefix: str = "optim.") -> None:
    """Restore what ``optimizer_tensors`` stored (other keys are ignored)."""
    state = opt.state_dict()
    for key, value in tensors.items():
        if key.startswith(prefix):
            i, name = key[len(prefix):].split(".", 1)
            state["state"].setdefault(int(i), {})[name] = value
    opt.load_state_dict(state)


def load_trained(path: str | Path, capability: str, build, device: str = "cpu"):
    """``(model, meta)`` from a checkpoint of ``capability``: ``build(meta)`` makes the network,
    its weights are loaded (a resumable checkpoint's optimiser state is left out), in eval mode
    on ``device``. ``ValueError`` naming the file when it holds another capability's weights."""
    tensors, meta = load_checkpoint(path, "cpu")
    if meta.get("capability") != capability:
        raise ValueError(f"{path} is not a {capability} checkpoint (its metadata names "
                         f"{meta.get('capability') or meta.get('agent') or 'no capability'})")
    model = build(meta)
    model.load_state_dict(without_optimizer(tensors))
    return model.to(device).eval(), meta


def resume_into(path: str | Path, model, opt: torch.optim.Optimizer, same_run) -> tuple[int, dict]:
    """Load a resumable checkpoint into ``model`` and ``opt`` and return ``(step, history)``;
    ``same_run(meta)`` returns why the checkpoint is of another run (or an empty string), which
    becomes a ``ValueError`` asking for a new output folder."""
    tensors, meta = load_checkpoint(path)
    why = same_run(meta)
    if why:
        raise ValueError(f"{path} is a run with other settings ({why}); give a new --out folder or the same "
                         "settings to resume")
    model.load_state_dict(without_optimizer(tensors))
    device = next(model.parameters()).device
    load_optimizer_tensors(opt, {k: v.to(device) for k, v in tensors.items()})
    return int(meta["step"]), meta["history"]

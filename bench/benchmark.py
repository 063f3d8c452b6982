"""What a user waits for, page by page, as ratios from one run.

    python -m bench.benchmark            # bundled pack, then the full-size hub architectures (random weights)
    python -m bench.benchmark --quick    # one repeat, no optional panels
    python -m bench.benchmark --packs hub

For every page, on each pack (Patching twice: on a photo with its default, real DINOv2 ViT-S/14 at 224 px, and on
a shapes scene with the pack's CLIP tower; Listening with Whisper base on the 5.5 s sample clip attention_words):
- forward: the bare model forward the page is built on (best of N, preprocessing excluded, in a fresh thread as a
  page runs: see in_worker), its FLOPs (torch's FLOP counter) and achieved GFLOP/s, against a 4096 x 4096 fp32
  matmul timed in the same run;
- page compute: every `components.service.models` call the page makes for a new input (a sample it has not seen, its
  question), models already loaded: the model work a student waits for;
- new input: the whole AppTest rerun for that new input (compute + page script + figures);
- interaction: a whole AppTest rerun after a widget that needs no new forward (layer, head, centring), cache warm;
- figure JSON: bytes of Plotly JSON the page sends (all st.plotly_chart specs on the page).
Listening's forward is Whisper's bare `generate(input_features)` (encoder + greedy decode); its new input, the
page's first whole answer on that clip with the model loaded and nothing cached (the issue's "first Listening
answer on a 5 s clip", target <= 1.5x); its view widget is the word picker; the frame slider is timed too.
Then the peak RSS of this one process, which visited every page with the full-size hub architectures under the
model memory budget (components.service.models, $MMA_MODEL_BUDGET_MB), and once more with every optional panel open.

The hub pack here is `bench.full_size`: the real configs with random weights (same shapes and cost as the real
checkpoints), so this runs offline. Never part of the test run: the numbers are machine- and load-dependent.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers loads: the hub pack is bench.full_size here

import argparse
import functools
import importlib
import importlib.util
import inspect
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from streamlit.runtime.caching.cache_utils import CachedFunc
from streamlit.testing.v1 import AppTest
from torch.utils.flop_counter import FlopCounterMode

from bench import full_size
from components.service import models
from core.classroom.page_table import PAGE_TABLE
from core.concepts import gallery
from core.inputs import audio as audio_in
from core.inputs import images, speech_samples
from core.models import dinov2, whisper

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
MATMUL_N = 4096
FLOORS: dict[str, float] = {}  # pack -> the home page's AppTest rerun: what any rerun costs before a page starts


def rss_mb(field_name: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so a section's peak excludes what ran before it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


SETTLE_S = 0.3  # before each timing: the other thread's OpenMP workers stop spinning (2 cores: they steal one)


def in_worker(fn: Callable[[], T]) -> T:
    """fn() in a fresh thread, its result or its exception. All torch work here runs this way, never on the main
    thread, as on a Streamlit server, where page scripts run in their own threads and the main thread only serves.
    Once the main thread has run torch, its OpenMP workers stay alive and every forward in another thread (AppTest's
    page scripts included) ran 30-50% slower here (CLIP B/32 with attentions: 88 ms on the main thread, 132 ms in a
    worker beside it; 92 ms in a worker when the main thread never computed)."""
    box: list = []

    def target() -> None:
        try:
            with torch.inference_mode():  # per thread
                box.append((fn(), None))
        except BaseException as error:  # noqa: BLE001 - handed back to the caller's thread
            box.append((None, error))

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    result, error = box[0]
    if error is not None:
        raise error
    return result


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best of `repeats`, each timed in a fresh thread (see in_worker)."""
    times = []
    for _ in range(repeats):
        time.sleep(SETTLE_S)
        times.append(in_worker(lambda: _timed_ms(fn)))
    return min(times)


def _counted(counter: FlopCounterMode, fn: Callable[[], object]) -> None:
    with counter:
        fn()


def _timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def matmul_gflops(repeats: int) -> float:
    a, b = in_worker(lambda: (torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)))
    in_worker(lambda: a @ b)  # warm-up
    ms = best_ms(lambda: a @ b, repeats)
    return 2 * MATMUL_N ** 3 / (ms / 1000) / 1e9


def cached_behind(value) -> CachedFunc | None:
    """The st.cache_* function behind `value`: itself, or under the timing and the serving-pack wrappers
    (components.service.models looks up the pack that serves a role before the cache); None for anything else."""
    while value is not None and not isinstance(value, CachedFunc):
        value = getattr(value, "__wrapped__", None)
    return value


class ComputeTimer:
    """Wrap every per-input result function the pages call (the st.cache_data / st.cache_resource functions of
    components.service.models and of any other components module that caches model results, plus the uncached
    cross_attention_math) and add up the time spent in the outermost ones (masking_test calls ask: counted once)."""

    MODULES = ("components.service.models", "components.service.clip_source",  # the CLIP space page's own caches
               "components.widgets.audio_input")  # the Listening page's decoded sound
    SKIP = ("loaded_models", "pack_choice")  # the process's models and pack choice: not per-input results
    EXTRA = ("cross_attention_math",)

    def __init__(self):
        self.total_ms = 0.0
        self.calls: list[str] = []
        self._depth = 0
        self._modules = [importlib.import_module(m) for m in self.MODULES if importlib.util.find_spec(m)]
        for module in self._modules:
            for name in dir(module):
                value = getattr(module, name)
                if name in self.SKIP or not (cached_behind(value) or name in self.EXTRA):
                    continue
                if getattr(value, "__module__", module.__name__) != module.__name__:
                    continue  # imported from elsewhere: wrapped where it is defined
                setattr(module, name, self._timed(f"{module.__name__.split('.')[-1]}.{name}", value))

    def _timed(self, name, original):
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.total_ms += (time.perf_counter() - start) * 1000
                    self.calls.append(name)
        return wrapper

    def reset(self) -> None:
        self.total_ms, self.calls = 0.0, []

    INPUT_ARGS = frozenset({"image_png", "named_images", "question", "text", "texts", "points", "wav", "data"})

    def forget_results(self) -> None:
        """Empty every per-input result cache (models stay loaded): the next run is a new input for every page.
        Caches keyed by the pack alone (grounding on 100 held-out scenes, say) stay: a new input never reruns them."""
        for module in self._modules:
            for name in dir(module):
                cached = cached_behind(getattr(module, name))
                if cached is None or name in self.SKIP:
                    continue
                if self.INPUT_ARGS & set(inspect.signature(cached._info.func).parameters):
                    cached.clear()
        models._image.cache_clear()


@dataclass
class Page:
    name: str
    path: str
    role: str
    interaction: tuple[str, str, list]  # (widget kind, key, values to cycle through): changes the view only
    forward: Callable  # (loaded model, AppTest) -> a no-argument callable: the bare forward on the page's input
    image: str | None = None  # the sidebar sample the row is measured on (None: the pack's default image)
    sound: str | None = None  # the Listening page's sample clip (its name in core.inputs.speech_samples)


def _input(at: AppTest):
    return images.load_image(images.sample_png(at.selectbox(key="image_source").value)), at.text_area(key="text").value


def patching_forward(loaded, at):
    image, _ = _input(at)
    pixels = loaded.processor(images=image, return_tensors="pt").pixel_values
    return lambda: loaded.model.vision_model(pixel_values=pixels)


def dino_forward(loaded, at):
    """DINOv2's backbone on the photo's model image at the page's side (224 px by default: 16 x 16 patches)."""
    image, _ = _input(at)
    side = at.radio(key="patching_side").value
    pixels = dinov2.pixel_values(dinov2.model_image(image, side, dinov2.patch_size(loaded.model)), loaded.processor)
    return lambda: loaded.model(pixel_values=pixels)


def vqa_forward(loaded, at):
    image, question = _input(at)
    inputs = loaded.processor(images=image, text=question, return_tensors="pt", truncation=True)
    # BlipForQuestionAnswering's own answer path (vision, question encoder, greedy answer decoder), 10 tokens at
    # most, as the page asks
    return lambda: loaded.model.generate(pixel_values=inputs.pixel_values, input_ids=inputs.input_ids,
                                         attention_mask=inputs.attention_mask, max_new_tokens=10, num_beams=1,
                                         do_sample=False)


def clip_forward(loaded, at):
    captions = [c.strip() for c in at.text_area(key="clip_captions").value.splitlines() if c.strip()]
    catalogue = gallery.catalogue()  # the page embeds the sidebar image, then its gallery
    names = [at.selectbox(key="image_source").value] + list(at.multiselect(key="clip_gallery").value)
    shown = [images.load_image(catalogue[name].png if name in catalogue else images.sample_png(name))
             for name in names]
    inputs = loaded.processor(images=shown, text=captions, return_tensors="pt", padding=True, truncation=True)
    return lambda: loaded.model(**inputs)


def vilt_forward(loaded, at):
    image, question = _input(at)
    inputs = loaded.processor(images=image, text=question, return_tensors="pt", truncation=True)
    return lambda: loaded.model(**inputs)


def speech_sample(title_or_name: str) -> speech_samples.SpeechSample:
    return next(s for s in speech_samples.load_samples() if title_or_name in (s.title, s.name))


def whisper_forward(loaded, at):
    """Whisper's bare transcription of the page's clip: the log-mel (30 s window), then `generate` (the encoder
    once and the greedy decode, up to the end of text), as a plain transcription script would call it."""
    sample = speech_sample(at.selectbox(key="listen_sound").value)
    audio = audio_in.load_audio(sample.path.read_bytes(), sample.path.name).samples
    features = whisper.input_features(loaded.processor, audio)
    kwargs = whisper.generate_kwargs(loaded.model)
    return lambda: loaded.model.generate(input_features=features, do_sample=False, num_beams=1, **kwargs)


PATCH_KEY = "patching_patch"
LISTEN_TARGET = 1.5  # the issue's: the first answer on a 5 s clip within 1.5x Whisper's own transcription
LISTEN_CLIP = "attention_words"  # 5.5 s, the longest sample: "Attention tells the model where to look."
PHOTO, SCENE = "photo: cat", "shapes: two objects"
MEASURED = {  # page name -> its rows: (row label, model role, view-only widget (kind, key field, two values),
    #                                 the bare forward, the sidebar image or None, the sound or None)
    "patches": [("Patching (photo, DINOv2)", "vision", ("selectbox", "layer", [0, 1]), dino_forward, PHOTO, None),
                ("Patching (shapes, CLIP)", "clip", ("selectbox", "layer", [0, 1]), patching_forward, SCENE, None)],
    "cross-attention": [(None, "vqa", ("selectbox", "layer", [0, 1]), vqa_forward, None, None)],
    "clip-space": [(None, "clip", ("toggle", "centre", [True, False]), clip_forward, None, None)],
    "early-fusion": [(None, "fusion", ("selectbox", "head", [2, 3]), vilt_forward, None, None)],
    # the word picker: the spectrogram's highlighted token and the math panel's row (its first change runs one
    # Q/K forward for the new row, cached after)
    "listening": [("Listening (Whisper base)", "listen", ("segmented_control", "word", [1, 2]), whisper_forward, None,
                   LISTEN_CLIP)],
}
unmeasured = [spec.name for spec in PAGE_TABLE if spec.name not in MEASURED]
if unmeasured:
    raise SystemExit(f"bench.benchmark does not know how to measure {unmeasured}: add them to MEASURED")
PAGES = [Page(label or spec.title, spec.script, role, (kind, spec.key(field), values), forward, image, sound)
         for spec in PAGE_TABLE
         for label, role, (kind, field, values), forward, image, sound in MEASURED[spec.name]]


@dataclass
class Row:
    pack: str
    page: str
    forward_ms: float
    gflop: float
    compute_ms: float
    new_input_ms: float
    interaction_ms: float
    figure_kb: float
    largest_figure_kb: float
    calls: list[str] = field(default_factory=list)
    first_visit_ms: float = float("nan")  # the page's first run in this pack: its model loaded unless the budget kept it
    first_change_ms: float = float("nan")  # the view widget's first change (may fill a per-view cache)
    sound: str | None = None
    frame_change_ms: float = float("nan")  # Listening: the math panel's frame slider moved to a new frame

    def gflops(self) -> float:
        return self.gflop / (self.forward_ms / 1000)


def figure_bytes(at: AppTest) -> tuple[int, int]:
    sizes = [len(chart.proto.spec) for chart in at.get("plotly_chart")]
    return sum(sizes), max(sizes, default=0)


def run(at: AppTest) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    at.run()
    ms = (time.perf_counter() - start) * 1000
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.value for e in at.exception]}")
    return ms


def set_widget(at: AppTest, kind: str, key: str, value) -> None:
    getattr(at, kind)(key=key).set_value(value)


def next_sample(current: str) -> str:
    """A sample of the same kind (photo or shapes) the page has not been run on yet in this pack."""
    names = list(images.samples())
    kind = images.samples()[current].kind
    same = [n for n in names if images.samples()[n].kind == kind]
    return same[(same.index(current) + 1) % len(same)]


def bench_pack(pack: str, repeats: int, timer: ComputeTimer, log) -> tuple[list[Row], AppTest]:
    os.environ["MMA_PACK"] = pack
    models.pack_choice.clear()
    at = AppTest.from_file(APP, default_timeout=900)
    run(at)
    floor = min(run(at) for _ in range(max(repeats, 2)))
    log(f"  {pack:7s} AppTest rerun floor (home page, sidebar, no model): {floor:.0f} ms")
    FLOORS[pack] = floor
    default_image = at.selectbox(key="image_source").value
    rows = []
    for page in PAGES:
        # the row's input before the visit, so that its first run is already on it (and loads only its model)
        set_widget(at, "selectbox", "image_source", page.image or default_image)
        if page.sound:
            at.session_state["listen_sound"] = speech_sample(page.sound).title
        if PATCH_KEY in at.session_state:
            # Patching keeps the patch clicked on the previous grid: DINOv2's 16 x 16 centre (136) is past the end of
            # CLIP's grid and the page raised (patch_vector_section, out-of-range patch). Each row starts from the
            # page's own default patch.
            del at.session_state[PATCH_KEY]
        at.switch_page(page.path)
        first_ms = run(at)  # loads the model if the budget evicted it; fills the caches for the default input
        start_image = at.selectbox(key="image_source").value
        total, largest = figure_bytes(at)
        loaded = models.model(pack, page.role)
        forward = in_worker(lambda: page.forward(loaded, at))  # the processor makes tensors: torch work too
        in_worker(forward)  # warm-up
        counter = FlopCounterMode(display=False)
        in_worker(lambda: _counted(counter, forward))
        # Interleaved, forward then a new input (another sample and its question, its results not cached, models
        # warm), so that a burst of load elsewhere hits both sides of the ratio; best of each. The Listening page's
        # new input is its clip again with every result cache (the decoded sound too) emptied: a clip it never heard.
        forwards, compute, new_input = [], [], []
        image = start_image
        for _ in range(max(repeats, 3)):
            forwards.append(best_ms(forward, 1))
            if not page.sound:
                image = next_sample(image)
                set_widget(at, "selectbox", "image_source", image)
            timer.forget_results()  # samples repeat across repeats and pages: make each one new
            timer.reset()
            new_input.append(run(at))
            compute.append(timer.total_ms)
        forward_ms = min(forwards)
        loaded = forward = None  # the closure holds the model: let the budget evict it on a later page
        calls = list(timer.calls)
        kind, key, values = page.interaction
        interaction = []
        first_change = float("nan")
        for i in range(max(repeats, 2) + 1):
            set_widget(at, kind, key, values[i % len(values)])
            ms = run(at)
            if i:  # the first change may still fill a per-layer cache; the rest are what a student sees
                interaction.append(ms)
            else:
                first_change = ms
        frame_ms = float("nan")
        if page.sound:  # the math panel's frame slider: a frame never shown for this word and head
            frame = at.slider(key="listen_frame")
            set_widget(at, "slider", "listen_frame", (frame.value + 7) % (frame.max + 1))
            frame_ms = run(at)
        if not page.sound:
            set_widget(at, "selectbox", "image_source", start_image)
        run(at)
        rows.append(Row(pack, page.name, forward_ms, counter.get_total_flops() / 1e9, min(compute), min(new_input),
                        min(interaction), total / 1024, largest / 1024, calls, first_ms, first_change, page.sound,
                        frame_ms))
        log(f"  {pack:7s} {page.name:26s} first visit {first_ms:7.0f} ms, forward {forward_ms:6.0f} ms, "
            f"compute {min(compute):6.0f} ms, new input {min(new_input):6.0f} ms, first change {first_change:5.0f} ms, "
            f"rerun {min(interaction):5.0f} ms, RSS {rss_mb():5.0f} MB "
            f"(models: {', '.join(r for _, r in models.loaded_models().keys())})")
    set_widget(at, "selectbox", "image_source", default_image)
    return rows, at


def open_every_panel(at: AppTest, log) -> None:
    """The optional panels: the masking test, caption mode, the three fusion designs side by side."""
    at.switch_page("pages/cross_attention.py")
    run(at)
    at.toggle(key="cross_masking").set_value(True)
    run(at)
    set_widget(at, "segmented_control", "cross_mode", "Caption the image")
    run(at)
    log(f"  masking test and caption mode: RSS {rss_mb():.0f} MB, peak {rss_mb('VmHWM'):.0f} MB")
    at.switch_page("pages/early_fusion.py")
    run(at)
    at.toggle(key="fusion_designs").set_value(True)
    run(at)
    log(f"  fusion designs (CLIP, BLIP, ViLT one after another): RSS {rss_mb():.0f} MB, peak {rss_mb('VmHWM'):.0f} MB")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")


def markdown(rows: list[Row], matmul: float) -> str:
    head = ("| pack | page | forward ms | page compute ms | compute / forward | new-input rerun ms "
            "| new input / forward | interaction rerun ms | interaction / forward | forward GFLOP | GFLOP/s | vs matmul "
            "| figure JSON KB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r.pack} | {r.page} | {r.forward_ms:.0f} | {r.compute_ms:.0f} | {r.compute_ms / r.forward_ms:.2f}x "
            f"| {r.new_input_ms:.0f} | {r.new_input_ms / r.forward_ms:.2f}x | {r.interaction_ms:.0f} "
            f"| {r.interaction_ms / r.forward_ms:.2f}x "
            f"| {r.gflop:.1f} | {r.gflops():.0f} | {r.gflops() / matmul:.0%} "
            f"| {r.figure_kb:.0f} (largest {r.largest_figure_kb:.0f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, no optional panels")
    parser.add_argument("--packs", default="bundled,hub", help="comma-separated: bundled, hub")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    def log(message: str) -> None:
        print(message, flush=True)

    full_size.install()  # the hub pack = the real architectures with random weights
    timer = ComputeTimer()

    load_start = os.getloadavg()
    log(f"machine: {machine()}")
    log(f"load average at start (1, 5, 15 min): {load_start[0]:.2f}, {load_start[1]:.2f}, {load_start[2]:.2f}")
    log(f"model budget: {models.loaded_models().budget_bytes / 2**20:.0f} MB of weights; RSS after imports "
        f"{rss_mb():.0f} MB")
    matmul = matmul_gflops(repeats=3)
    log(f"fp32 matmul {MATMUL_N}x{MATMUL_N}: {matmul:.0f} GFLOP/s")

    rows, peaks = [], {}
    for pack in args.packs.split(","):
        if pack == "hub":
            reset_peak_rss()
        pack_rows, at = bench_pack(pack, repeats, timer, log)
        rows += pack_rows
        if pack == "hub":
            peaks["every page"] = rss_mb("VmHWM")
            if not args.quick:
                try:
                    open_every_panel(at, log)
                    peaks["every page and optional panel"] = rss_mb("VmHWM")
                except RuntimeError as error:  # report it, keep the table
                    log(f"  an optional panel failed: {error}")
    matmul_end = matmul_gflops(repeats=3)
    load_end = os.getloadavg()

    print()
    print(markdown(rows, (matmul + matmul_end) / 2))
    print()
    print(f"- matmul reference: {matmul:.0f} GFLOP/s at the start, {matmul_end:.0f} at the end (the table uses the "
          "mean)")
    for pack, ms in FLOORS.items():
        print(f"- AppTest rerun floor ({pack}): the home page, sidebar only, no model: {ms:.0f} ms")
    for what, mb in peaks.items():
        print(f"- peak RSS, one process, full-size hub architectures, {what}: {mb:.0f} MB")
    print(f"- load average (1, 5, 15 min): start {load_start[0]:.2f}, {load_start[1]:.2f}, {load_start[2]:.2f}; "
          f"end {load_end[0]:.2f}, {load_end[1]:.2f}, {load_end[2]:.2f}")
    print(f"- machine: {machine()}")
    budget = models.loaded_models()
    print(f"- model budget {budget.budget_bytes / 2**20:.0f} MB: {budget.loads} loads, {budget.evictions} evictions")
    for r in rows:
        print(f"- {r.pack} {r.page}: page compute = {', '.join(dict.fromkeys(r.calls))}")
    for r in rows:
        if r.sound:
            sample = speech_sample(r.sound)
            print(f"- {r.pack} first {r.page} answer on a {sample.duration:.1f} s clip ({sample.name}): the page's "
                  f"whole run with the model loaded and nothing cached {r.new_input_ms:.0f} ms vs Whisper's bare "
                  f"`generate` {r.forward_ms:.0f} ms: **{r.new_input_ms / r.forward_ms:.2f}x** (target <= "
                  f"{LISTEN_TARGET}x; page compute alone {r.compute_ms / r.forward_ms:.2f}x); its first visit, "
                  f"loading the model: {r.first_visit_ms:.0f} ms; first word change {r.first_change_ms:.0f} ms "
                  f"(the math panel's new row), then {r.interaction_ms:.0f} ms; the math panel's frame slider to "
                  f"a new frame {r.frame_change_ms:.0f} ms (models.listening_math: numpy on the clip's decoder "
                  f"reading, which the transcription's own pass recorded)")


if __name__ == "__main__":
    main()

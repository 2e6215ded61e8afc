# Attention Explorer, hosted: `docker build -t attention-explorer . && docker run -p 8501:8501 attention-explorer`
# The built-in models ship in assets/ and MiniLM in its pip package, so the image needs no
# network at run time. (Not built where this was written: no Docker daemon there; see README, Hosting.)
FROM python:3.11-slim

# No system packages: every picture is drawn in the visitor's browser (the attention canvas,
# plotly.js), so the server renders no image and needs neither a browser nor fonts.

# Hosted mode (ui/hosting.py): built-in and allowlisted models only, bounded input and caches.
# Offline: nothing a visitor types makes the server reach for the Hugging Face Hub.
ENV ATTENTION_EXPLORER_HOSTED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A user with uid 1000, as Hugging Face Spaces expect; nothing runs as root.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# Requirements first, so a code change does not reinstall torch. torch==2.13.0 is pinned in
# requirements.txt; the extra index offers its CPU build (2.13.0+cpu), which pip prefers to
# PyPI's multi-gigabyte CUDA build of the same version. Only here: local installs take PyPI's.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt \
    && python -c "import torch; assert not torch.version.cuda, torch.__version__"

COPY --chown=user:user . .
USER user

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"

# The same command as README.md's Hosting section.
CMD ["streamlit", "run", "app.py", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true"]

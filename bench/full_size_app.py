"""`streamlit run` with the hub pack's full-size models (bench/full_size.py) installed in the server process:

    MMA_PACK=hub HF_HUB_OFFLINE=1 python -m bench.full_size_app app.py [more `streamlit run` options]

full_size.install() has to run in the process whose threads run the page scripts, so this launcher installs it and
then starts Streamlit's own CLI in the same process (app.py stays the main script: its st.Page paths resolve next to
it, as in production). The file watcher is off: Streamlit drops a changed module from sys.modules, and a re-imported
core.models.registry would lose the install. Benchmark-only (bench/browser.py --pack hub): the answers are noise;
shapes, cost and bytes are the real checkpoints'.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers loads
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    from bench import full_size

    full_size.install()
    from streamlit.web import cli

    args = list(sys.argv[1:] if argv is None else argv)
    return cli.main(args=["run", *args, "--server.fileWatcherType", "none"], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())

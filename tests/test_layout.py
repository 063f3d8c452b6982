"""The layout's rules, read from the files: core/ stays free of Streamlit and small at its top level, and code the
app runs never imports the offline training or evaluation scripts."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {"core.shapes.train", "core.shapes.evaluate", "core.evaluate"}  # commands run by hand, never by the app


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def runtime_files() -> list[Path]:
    files = [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("components/**/*.py"), *ROOT.glob("core/**/*.py")]
    return [f for f in files if f.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".") not in OFFLINE]


def test_runtime_code_never_imports_training_or_evaluation():
    offenders = {f.relative_to(ROOT).as_posix(): sorted(imported_modules(f) & OFFLINE) for f in runtime_files()}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_core_never_imports_streamlit():
    offenders = [f.relative_to(ROOT).as_posix() for f in ROOT.glob("core/**/*.py")
                 if any(m == "streamlit" or m.startswith("streamlit.") for m in imported_modules(f))]
    assert offenders == []


def test_core_top_level_is_packages_and_at_most_six_modules():
    modules = sorted(p.name for p in (ROOT / "core").glob("*.py"))
    assert len(modules) <= 6, modules
    assert "__init__.py" in modules


def test_components_are_split_into_figures_widgets_sections_and_service():
    top = sorted(p.name for p in (ROOT / "components").glob("*.py"))
    assert top == ["__init__.py"]
    assert {p.name for p in (ROOT / "components").iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "figures", "widgets", "sections", "service"}


def test_figures_never_import_streamlit_or_a_model():
    for f in ROOT.glob("components/figures/*.py"):
        modules = imported_modules(f)
        assert not any(m == "streamlit" or m.startswith("streamlit.") for m in modules), f.name
        assert not any(m.startswith("core.models") or m == "torch" for m in modules), f.name


def test_the_tests_mirror_the_layout():
    packages = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    mirrored = {p.name for p in (ROOT / "tests" / "core").iterdir() if (p / "__init__.py").exists()}
    assert packages == mirrored
    loose = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert loose == ["test_layout.py"]  # every other test lives beside what it tests

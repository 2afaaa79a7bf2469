"""Training and retraining time, from a cold copy of each project."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from scripts.bench.config import BIN
from scripts.bench.processes import TargetFailed, base_env, timed_run

OUR_PROJECT_FILES = (
    "config.yml",
    "domain.yml",
    "data",
    "components",
    "actions",
    "clinic_core",
    "clinic",
)
STARTER_PROJECT_FILES = ("config.yml", "domain.yml", "data")


def copy_project(source: Path, names: tuple[str, ...], destination: Path) -> Path:
    """The files training reads, without any `.rasa/cache`: a cold start."""
    destination.mkdir(parents=True)
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(
                source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source / name, destination / name)
    return destination


def edit_response(domain: Path, response: str) -> None:
    """Change the text of `response` the way a clinic would reword an answer."""
    lines = domain.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{response}:")
    at = next(i for i in range(start + 1, len(lines)) if re.match(r"\s*-\s*text:", lines[i]))
    if re.search(r"text:\s*[>|]", lines[at]):  # block scalar: the text is on the next line
        at += 1
        lines[at] = re.sub(r"^(\s*)", r"\1Reworded. ", lines[at], count=1)
    else:
        lines[at] = re.sub(r"(text:\s*[\"']?)", r"\1Reworded. ", lines[at], count=1)
    domain.write_text("".join(lines), encoding="utf-8")
    _check_edit(domain, response)


def _check_edit(domain: Path, response: str) -> None:
    import yaml

    texts = [v.get("text", "") for v in yaml.safe_load(domain.read_text())["responses"][response]]
    if not any(text.startswith("Reworded. ") for text in texts):
        raise TargetFailed(f"could not edit {response} in {domain}")


def measure_training(
    name: str, source: Path, files: tuple[str, ...], response: str, work: Path, out: Path
) -> dict[str, float]:
    """Full training from a cold copy, then retraining after a response edit."""
    project = copy_project(source, files, work / f"train-{name}")
    models = work / f"train-{name}-models"
    rasa, env = str(BIN / "rasa"), base_env()
    log = out / f"train-{name}.log"
    print(f"[training] {name}: full training...", flush=True)
    full = timed_run([rasa, "train", "--force", "--out", str(models)], project, env, log)
    edit_response(project / "domain.yml", response)
    print(f"[training] {name}: retraining after editing {response}...", flush=True)
    again = timed_run([rasa, "train", "--out", str(models)], project, env, log)
    return {"full_s": full, "retrain_s": again}

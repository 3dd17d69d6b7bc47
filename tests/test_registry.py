"""Plugin discovery: built-ins, a real plugin package on the path, a broken plugin."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from img2gif import registry
from img2gif.errors import PluginError

ROOT = Path(__file__).resolve().parents[1]
CENSUS = ROOT / "plugins" / "img2gif-census"
PHASECORR = ROOT / "plugins" / "img2gif-phasecorr"

tomllib = pytest.importorskip("tomllib")


def test_a_bare_source_checkout_finds_the_builtins_in_its_pyproject(tmp_path):
    """A checkout that was never installed (no dist-info or egg-info anywhere on its path, as a
    device run uses it) reads the entry-point tables of its own pyproject.toml: every group,
    every name, the same targets as a TOML parser reads there."""
    shutil.copytree(ROOT / "img2gif", tmp_path / "img2gif", ignore=shutil.ignore_patterns("*.pt", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from img2gif import registry; "
            "print(json.dumps({registry.GROUPS[k]: {n: [i.target, i.provider] for n, i in registry.available(k).items()} "
            "for k in registry.GROUPS}))")
    done = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert set(found) == set(table) == set(registry.GROUPS.values())
    for group, entries in table.items():
        assert {name: target for name, (target, _) in found[group].items()} == dict(entries)
        assert {provider for _, provider in found[group].values()} == {"img2gif (source)"}


def test_builtins_available_and_load():
    for kind, names in {"solvers": ["euler", "midpoint", "rk4", "dopri5", "scaling-squaring"],
                        "velocity": ["svf", "unet"],
                        "losses": ["l2", "charbonnier"],
                        "penalties": ["jacobian", "outgrid", "smoothness", "displacement"],
                        "estimators": ["shift", "blocks"]}.items():
        assert set(names) <= set(registry.available(kind))
        for name in names:
            assert registry.load(kind, name) is not None


def test_unknown_name_lists_known_ones():
    with pytest.raises(PluginError, match="unknown solver 'heun'.*euler.*rk4"):
        registry.load("solvers", "heun")
    with pytest.raises(PluginError, match="unknown loss 'huber'.*charbonnier"):
        registry.load("losses", "huber")
    with pytest.raises(PluginError, match="unknown velocity 'mlp'.*svf"):
        registry.load("velocity", "mlp")


def make_dist(site: Path, name: str, entry_points: dict[str, dict[str, str]]) -> None:
    """A minimal installed distribution (dist-info) so importlib.metadata finds its entry points."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def census_entry_points():
    return tomllib.loads((CENSUS / "pyproject.toml").read_text())["project"]["entry-points"]


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """The real census plugin (declared by its own pyproject) and a broken one, on sys.path."""
    site = tmp_path / "site"
    make_dist(site, "img2gif-census", census_entry_points())
    make_dist(site, "img2gif-broken", {"img2gif.losses": {"broken": "img2gif_broken_missing:loss"}})
    monkeypatch.syspath_prepend(str(CENSUS))
    monkeypatch.syspath_prepend(str(site))
    registry.clear_cache()
    yield site
    registry.clear_cache()


def test_plugin_on_path_is_discovered_and_loads(plugin_site):
    info = registry.available("losses")["census"]
    assert info.provider == "img2gif-census"
    census = registry.load("losses", "census")
    import torch

    x = torch.rand(1, 3, 8, 8)
    assert census(x, x) < 1e-6 < census(x, torch.rand(1, 3, 8, 8))


def test_broken_plugin_is_listed_with_warning_and_errors_when_chosen(plugin_site):
    assert "broken" in registry.available("losses")  # listing imports nothing: no crash
    problems = {info.name: problem for info, problem in registry.check_all()}
    assert problems["census"] is None
    assert "failed to load" in problems["broken"] and "img2gif-broken" in problems["broken"]
    with pytest.raises(PluginError, match="'broken'.*failed to load.*ModuleNotFoundError"):
        registry.load("losses", "broken")


@pytest.mark.slow
@pytest.mark.parametrize("plugin, dist, option, field, unknown", [
    (CENSUS, "img2gif-census", "--loss", "loss", None),
    (PHASECORR, "img2gif-phasecorr", "--estimator", "estimator", "unknown --estimator 'flow9'; known: blocks, broken"),
])
def test_a_plugin_is_one_file_and_one_entry_point_in_a_fresh_interpreter(tmp_path, image_files, plugin, dist, option,
                                                                          field, unknown):
    """The example plugins, each declared by its own pyproject: inspect lists it, fit-pair uses
    it and records it, a broken one beside it is a warning when listed and a one-line error
    when chosen."""
    table = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]["entry-points"]
    (group, entries), = table.items()
    (name, _), = entries.items()
    assert len(list((plugin / dist.replace("-", "_")).glob("*.py"))) == 1
    site = tmp_path / "site"
    make_dist(site, dist, table)
    make_dist(site, "img2gif-broken", {group: {"broken": "img2gif_broken_missing:Thing"}})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(plugin), str(ROOT)]))
    run = lambda *args: subprocess.run([sys.executable, "-m", "img2gif", *args], env=env, capture_output=True, text=True, timeout=300)
    listed = run("inspect")
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout and dist in listed.stdout
    assert "broken" in listed.stdout and "warning" in listed.stdout
    a, b = image_files
    out = tmp_path / "pair.pt"
    fitted = run("fit-pair", str(a), str(b), "-o", str(out), option, name, "--working-size", "32", "-q")
    assert fitted.returncode == 0, fitted.stderr
    from img2gif.checkpoint import load

    assert load(out)["fit"][field] == name
    refusals = [("broken", "failed to load")] + ([("flow9", unknown)] if unknown else [])
    for chosen, says in refusals:
        refused = run("fit-pair", str(a), str(b), "-o", str(tmp_path / "x.pt"), option, chosen, "-q")
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
        assert not (tmp_path / "x.pt").exists()

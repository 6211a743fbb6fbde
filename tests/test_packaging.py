"""Every package of the portal is listed in setup.cfg, so a plain install carries it."""

import configparser
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_python_package_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("portal", "plugins") for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert found - listed == set(), "add these to [options] packages in setup.cfg"

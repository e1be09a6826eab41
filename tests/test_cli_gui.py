"""``embed-studio [gui]``: the window's screenshot mode, and what happens without a screen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from desktop.resources import samples_dir

COMMAND = str(Path(sys.executable).with_name("embed-studio"))


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env["EMBED_STUDIO_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def test_screenshot_mode_saves_the_window_once_everything_is_ready(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"

    done = subprocess.run(
        [COMMAND, str(samples_dir()), "--screenshot", str(shot)],
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.width >= 1000
        assert image.height >= 700
        # A drawn window has many colours (thumbnails, text); a blank grab has one or two.
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 500


def test_without_a_screen_the_window_command_prints_the_check_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [COMMAND, str(samples_dir())],
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "no screen here" in done.stderr
    assert "--screenshot" in done.stderr
    assert "animated-rocket.gif" in done.stdout
    assert "Nothing was sent." in done.stdout

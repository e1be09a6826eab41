#!/usr/bin/env bash
# Build the frozen app (PyInstaller onedir) into dist/embed-studio, then smoke-test it.
# Run from anywhere, after the README's install command (the .venv must exist).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
# pip's "WARNING: Location ... is ignored" lines (extra indexes on some machines) are noise.
.venv/bin/pip install -q "pyinstaller>=6.10,<7" 2>&1 | grep -v "^WARNING: Location" || true
export EMBED_STUDIO_ICONS="$PWD/build/icons"
.venv/bin/python packaging/make_icons.py "$EMBED_STUDIO_ICONS"
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
  --workpath build/pyinstaller packaging/embed-studio.spec
install -Dm644 packaging/io.embedstudio.EmbedStudio.desktop dist/embed-studio/share/applications/io.embedstudio.EmbedStudio.desktop
install -Dm644 packaging/io.embedstudio.EmbedStudio.metainfo.xml dist/embed-studio/share/metainfo/io.embedstudio.EmbedStudio.metainfo.xml
install -Dm644 "$EMBED_STUDIO_ICONS/embed-studio-256.png" dist/embed-studio/share/icons/hicolor/256x256/apps/io.embedstudio.EmbedStudio.png
built=$((SECONDS - started))

# Smoke test: the bundle starts without the project's venv (an empty environment, a fresh HOME)
# and draws its window on the bundled samples into a PNG.
home=$(mktemp -d)
shot="$home/window.png"
launched=$EPOCHREALTIME
env -i PATH=/usr/bin:/bin HOME="$home" QT_QPA_PLATFORM=offscreen \
  dist/embed-studio/embed-studio --screenshot "$shot" dist/embed-studio/_internal/desktop/resources/samples
took=$(awk -v a="$launched" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
# A real PNG, window-sized, with a picture in it (not one flat colour).
.venv/bin/python - "$shot" <<'EOF'
import sys

from PIL import Image

with Image.open(sys.argv[1]) as image:
    assert image.format == "PNG", image.format
    assert image.width >= 800 and image.height >= 500, image.size
    colours = image.convert("RGB").getcolors(1 << 24)
    assert colours is not None and len(colours) > 1000, "the window is (nearly) blank"
    print(f"smoke test: {image.width} x {image.height} PNG, {len(colours)} colours")
EOF
rm -rf "$home"
echo "build ${built} s; bundle $(du -sh dist/embed-studio | cut -f1); started and drew its window in ${took} s"

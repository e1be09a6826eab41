#!/usr/bin/env bash
# Build the frozen app (PyInstaller onedir) into dist/embed-studio, then smoke-test it.
# Run from anywhere, after the README's install command (the .venv must exist).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q "pyinstaller>=6.10"
export EMBED_STUDIO_ICONS="$PWD/build/icons"
.venv/bin/python packaging/make_icons.py "$EMBED_STUDIO_ICONS"
.venv/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
  packaging/embed-studio.spec
install -Dm644 packaging/io.embedstudio.EmbedStudio.desktop dist/embed-studio/share/applications/io.embedstudio.EmbedStudio.desktop
install -Dm644 packaging/io.embedstudio.EmbedStudio.metainfo.xml dist/embed-studio/share/metainfo/io.embedstudio.EmbedStudio.metainfo.xml
install -Dm644 "$EMBED_STUDIO_ICONS/embed-studio-256.png" dist/embed-studio/share/icons/hicolor/256x256/apps/io.embedstudio.EmbedStudio.png

# Smoke test: the bundle starts without the project's venv and draws its window.
shot=$(mktemp --suffix=.png)
env -i PATH=/usr/bin:/bin HOME="$(mktemp -d)" QT_QPA_PLATFORM=offscreen \
  dist/embed-studio/embed-studio --screenshot "$shot" dist/embed-studio/_internal/desktop/resources/samples
test -s "$shot"
echo "bundle: $(du -sh dist/embed-studio | cut -f1); screenshot: $shot"

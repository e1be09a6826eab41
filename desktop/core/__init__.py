"""The app's engine, in plain Python: it never imports Qt or the emulator."""

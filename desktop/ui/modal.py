"""Show a dialog that runs background work modally, and always stop that work afterwards."""

from __future__ import annotations

from typing import Protocol


class WorkingDialog(Protocol):
    """A dialog with workers of its own to stop once it is closed."""

    def exec(self) -> int: ...

    def shutdown(self) -> None: ...

    def deleteLater(self) -> None: ...


def run_modal(dialog: WorkingDialog) -> None:
    """Show *dialog* until the user closes it; then stop its work and free it."""
    try:
        dialog.exec()
    finally:
        dialog.shutdown()
        dialog.deleteLater()

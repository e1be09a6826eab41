"""Fill a controller's session the way its workers would, synchronously, for view tests.

Views only read the session and listen to the controller's signals, so a test can probe and
prepare real files itself and then emit the signals the controller would emit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from desktop.core.assess import Sent
from desktop.core.images import probe_file
from desktop.core.models import Settings
from desktop.core.prepare import PrepareError, prepare
from desktop.core.rules import Finding, Severity
from desktop.ui.controller import SessionController


def add(
    controller: SessionController, paths: Sequence[Path], prepare_them: bool = True
) -> list[int]:
    """Add, probe and (unless told not to) prepare *paths*; emits what the controller would."""
    session = controller.session
    added = session.add_paths([str(p) for p in paths])
    controller.items_added.emit(added)
    for index in added:
        session.set_probe(index, probe_file(session.items[index].path))
    if prepare_them:
        prepare_pending(controller)
    controller.items_changed.emit(added)
    controller.plan_changed.emit()
    return added


def prepare_pending(controller: SessionController) -> list[int]:
    """Prepare every item whose bytes to send are not known yet; returns their indices."""
    session = controller.session
    todo = session.needs_prepare()
    for index in todo:
        probe = session.items[index].probe
        assert probe is not None
        try:
            sent: Sent | Finding = Sent.of(prepare(probe, session.settings))
        except PrepareError as exc:
            sent = Finding(exc.code, Severity.ERROR, str(exc))
        session.set_sent(index, session.key, sent)
    return todo


def change_settings(controller: SessionController, settings: Settings) -> None:
    """Switch the session to *settings*, prepare what that needs, and emit the signals."""
    session = controller.session
    session.set_settings(settings)
    prepare_pending(controller)
    controller.settings_changed.emit(settings)
    controller.items_changed.emit(list(range(len(session.items))))
    controller.plan_changed.emit()

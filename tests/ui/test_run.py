"""Runs from the run panel: the real SDK against the emulator, a real store, real images."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Slot

from desktop.core.endpoint import parse_endpoint
from desktop.core.models import RateLimit, Settings
from desktop.core.runner import (
    ItemsEmbedded,
    Progress,
    RunConfig,
    RunEnded,
    RunPlanned,
    RunResult,
)
from desktop.core.store import Store, VectorKey
from desktop.emulator import Emulator, expected_vector
from desktop.offline import OFFLINE_KEY, OfflineService
from desktop.ui.controller import SessionController
from desktop.ui.run_panel import EMULATED_BANNER, OFFLINE_BANNER, RunPanel, counts_words
from desktop.workers.running import AlreadyEmbedded, RunJob, start_run
from desktop.workers.tasks import TaskPool
from tests.conftest import TEST_KEY
from tests.imagegen import corrupt_data_png, photo_folder
from tests.ui.feeding import add

EMBED = "/v2/embed"
RUN_TIMEOUT_MS = 15_000


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


_controllers: list[SessionController] = []


@pytest.fixture(autouse=True)
def _shut_down_controllers() -> Iterator[None]:
    yield
    while _controllers:
        _controllers.pop().shutdown()


def new_controller(settings: Settings | None = None) -> SessionController:
    """A real session controller, shut down after the test."""
    controller = SessionController(settings)
    _controllers.append(controller)
    return controller


def session_with_images(
    tmp_path: Path, count: int, settings: Settings | None = None
) -> tuple[SessionController, list[Path]]:
    paths = photo_folder(tmp_path / "images", count)
    controller = new_controller(settings)
    add(controller, paths)
    return controller, paths


def job_for(
    controller: SessionController,
    base_url: str,
    store_path: Path,
    key: str = TEST_KEY,
    **config: object,
) -> RunJob:
    session = controller.session
    run_config = RunConfig(
        settings=session.settings,
        api_key=key,
        endpoint=parse_endpoint(base_url),
        timeout=10,
        seed=1,
        **config,  # type: ignore[arg-type]
    )
    return RunJob(run_config, tuple(session.run_items()), store_path)


def _shut_down(run_panel: RunPanel) -> None:
    assert run_panel.shutdown(10_000)


@pytest.fixture
def panel(qtbot) -> Callable[[SessionController], RunPanel]:
    """Makes run panels; each is shut down (its run cancelled and waited for) after the test."""

    def make(controller: SessionController) -> RunPanel:
        run_panel = RunPanel(controller)
        qtbot.addWidget(run_panel, before_close_func=_shut_down)
        return run_panel

    return make


def run_to_end(qtbot, run_panel: RunPanel, job: RunJob) -> RunResult:
    with qtbot.waitSignal(run_panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        run_panel.start_run(job)
        assert is_running(run_panel)
    result = blocker.args[0]
    assert isinstance(result, RunResult)
    assert not is_running(run_panel)
    return result


def is_running(run_panel: RunPanel) -> bool:
    # A function, so that type checkers do not take the property for a constant.
    return run_panel.running


def stored_keys(job: RunJob) -> list[VectorKey]:
    s = job.config.settings
    dimension = s.effective_dimension
    assert dimension is not None
    return [
        VectorKey(
            item.sha256,
            s.model,
            s.effective_input_type,
            dimension,
            "float",
            job.config.endpoint.url,
        )
        for item in job.items
    ]


def visible(widget, run_panel: RunPanel) -> bool:
    return bool(widget.isVisibleTo(run_panel))


class Recorder(QObject):
    """Receives a run task's signals on the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[object] = []
        self.finished = False

    @Slot(object)
    def on_event(self, event: object) -> None:
        self.events.append(event)

    @Slot()
    def on_finished(self) -> None:
        self.finished = True


def test_the_run_task_forwards_every_runner_event_then_the_result(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator
) -> None:
    controller, _paths = session_with_images(tmp_path, 5)
    job = job_for(controller, emulator.base_url, store_path)
    pool = TaskPool(1, "test-runs")
    recorder = Recorder()
    pool.idle.connect(recorder.on_finished)
    start_run(pool, job, recorder.on_event)
    qtbot.waitUntil(lambda: recorder.finished, timeout=RUN_TIMEOUT_MS)
    assert pool.shutdown(5_000)

    kinds = [type(e) for e in recorder.events]
    assert kinds[0] is AlreadyEmbedded
    assert kinds[1] is RunPlanned
    assert kinds[-2:] == [RunEnded, RunResult]
    assert ItemsEmbedded in kinds
    progress = [e for e in recorder.events if isinstance(e, Progress)]
    assert progress[-1].done == 5
    result = recorder.events[-1]
    assert isinstance(result, RunResult)
    assert (result.outcome, result.embedded, result.emulated) == ("completed", 5, True)


def test_a_full_run_stores_every_vector_and_marks_every_image(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    controller, paths = session_with_images(tmp_path, 7)
    run_panel: RunPanel = panel(controller)
    run_panel.set_can_run(True, "Ready to embed 7 images.")
    assert run_panel.run_button.isEnabled()
    job = job_for(controller, emulator.base_url, store_path)

    result = run_to_end(qtbot, run_panel, job)

    assert (result.outcome, result.embedded, result.cached, result.failed) == (
        "completed",
        7,
        0,
        {},
    )
    assert result.emulated
    with Store(store_path) as store:
        keys = stored_keys(job)
        assert store.missing(keys) == set()
        first = store.get(keys[0])
        assert first is not None
        s = job.config.settings
        expected = expected_vector(paths[0].read_bytes(), s.model, s.effective_input_type)
        assert np.array_equal(np.asarray(first.values, dtype=np.float32), expected)
    assert all(item.embedded for item in controller.session.items)
    assert run_panel.counts_label.text() == "7 of 7 images embedded"
    assert run_panel.progress_bar.value() == run_panel.progress_bar.maximum() == 7
    assert "Requests: 1 of 1" in run_panel.details_label.text()
    assert "Images billed: 7" in run_panel.details_label.text()
    assert run_panel.headline.text() == "Done: 7 images embedded."
    assert run_panel.results.count() == 7
    assert visible(run_panel.banner, run_panel)
    assert run_panel.banner_label.text() == EMULATED_BANNER
    assert not visible(run_panel.key_problem, run_panel)
    assert run_panel.run_button.isEnabled()
    assert not run_panel.cancel_button.isEnabled()


def test_a_second_run_sends_nothing_and_says_so(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    controller, _paths = session_with_images(tmp_path, 4)
    run_panel: RunPanel = panel(controller)
    job = job_for(controller, emulator.base_url, store_path)
    run_to_end(qtbot, run_panel, job)
    sent = len([r for r in emulator.requests if r.path == EMBED])

    fresh = new_controller()
    add(fresh, [Path(item.path) for item in controller.session.items])
    again_panel: RunPanel = panel(fresh)
    result = run_to_end(qtbot, again_panel, job_for(fresh, emulator.base_url, store_path))

    assert (result.outcome, result.embedded, result.cached) == ("completed", 0, 4)
    assert len([r for r in emulator.requests if r.path == EMBED]) == sent
    assert all(item.embedded for item in fresh.session.items), "stored images count as embedded"
    assert "already embedded" in again_panel.headline.text()


def test_cancelling_while_paced_keeps_what_arrived(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    # Three images a minute: the first request goes at once, the next waits for the pacer.
    settings = Settings(rate_limit=RateLimit.CUSTOM, custom_images_per_minute=3)
    controller, _paths = session_with_images(tmp_path, 9, settings)
    run_panel: RunPanel = panel(controller)
    job = job_for(controller, emulator.base_url, store_path, concurrency=2)
    run_panel.start_run(job)
    qtbot.waitUntil(
        lambda: sum(item.embedded for item in controller.session.items) == 3,
        timeout=RUN_TIMEOUT_MS,
    )
    assert run_panel.cancel_button.isEnabled()
    assert "Time left: about 2 minutes" in run_panel.details_label.text()

    with (
        qtbot.waitSignal(run_panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker,
        qtbot.waitSignal(run_panel.cancel_requested),
    ):
        qtbot.mouseClick(run_panel.cancel_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]

    assert (result.outcome, result.embedded) == ("cancelled", 3)
    assert len([r for r in emulator.requests if r.path == EMBED]) == 1
    with Store(store_path) as store:
        assert len(store.missing(stored_keys(job))) == 6
    assert run_panel.headline.text().startswith("Cancelled after 3 images")
    assert run_panel.counts_label.text() == counts_words(3, 9, 0)


def test_cancelling_during_a_slow_answer_keeps_its_vectors(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    emulator.faults.update(latency_ms=1500)
    controller, _paths = session_with_images(tmp_path, 6)
    run_panel: RunPanel = panel(controller)
    job = job_for(controller, emulator.base_url, store_path)
    run_panel.start_run(job)
    # The emulator records a request when it decides the answer, before the latency.
    qtbot.waitUntil(lambda: any(r.path == EMBED for r in emulator.requests), timeout=5_000)
    with qtbot.waitSignal(run_panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        run_panel.cancel_run()
        assert not run_panel.cancel_button.isEnabled()
        assert run_panel.headline.text().startswith("Cancelling")
    result = blocker.args[0]
    assert (result.outcome, result.embedded) == ("cancelled", 6)
    with Store(store_path) as store:
        assert store.missing(stored_keys(job)) == set()
    assert all(item.embedded for item in controller.session.items)


def test_cancel_and_wait_ends_the_worker_for_a_closing_window(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    settings = Settings(rate_limit=RateLimit.CUSTOM, custom_images_per_minute=2)
    controller, _paths = session_with_images(tmp_path, 6, settings)
    run_panel: RunPanel = panel(controller)
    run_panel.start_run(job_for(controller, emulator.base_url, store_path))
    qtbot.waitUntil(
        lambda: sum(item.embedded for item in controller.session.items) == 2,
        timeout=RUN_TIMEOUT_MS,
    )
    assert is_running(run_panel)
    assert run_panel.cancel_and_wait(10_000)
    with qtbot.waitSignal(run_panel.run_finished, timeout=5_000) as blocker:
        pass
    assert blocker.args[0].outcome == "cancelled"
    assert not is_running(run_panel)


def test_a_refused_key_shows_the_key_problem_and_a_way_to_fix_it(
    qtbot, tmp_path: Path, store_path: Path, panel
) -> None:
    controller, _paths = session_with_images(tmp_path, 3)
    run_panel: RunPanel = panel(controller)
    with Emulator(keys={"other"}) as emu:
        result = run_to_end(qtbot, run_panel, job_for(controller, emu.base_url, store_path))
        assert [r.path for r in emu.requests] == ["/v1/check-api-key"], "nothing is spent"
    assert result.outcome == "stopped"
    assert visible(run_panel.key_problem, run_panel)
    assert "The API key was refused" in run_panel.key_problem_label.text()
    assert "invalid api token" in run_panel.key_problem_label.text()
    with qtbot.waitSignal(run_panel.key_dialog_requested):
        qtbot.mouseClick(run_panel.key_button, Qt.MouseButton.LeftButton)
    assert not any(item.embedded for item in controller.session.items)


def test_a_failed_image_shows_the_servers_words_and_selects_it(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    folder = tmp_path / "images"
    paths = photo_folder(folder, 3)
    poison = corrupt_data_png(folder / "poison.png")
    controller = new_controller()
    add(controller, [*paths, poison])
    run_panel: RunPanel = panel(controller)

    result = run_to_end(qtbot, run_panel, job_for(controller, emulator.base_url, store_path))

    assert (result.outcome, result.embedded, list(result.failed)) == (
        "completed",
        3,
        [controller.session.sent_of(3).sha256],  # type: ignore[union-attr]
    )
    first = run_panel.results.item(0)
    assert first.text().startswith("poison.png — ")
    assert "could not be decoded as PNG" in first.text(), "the server's own words"
    assert controller.session.items[3].run_error == result.failed[next(iter(result.failed))]
    assert run_panel.counts_label.text() == "3 of 4 images embedded, 1 failed"
    assert "1 failed" in run_panel.headline.text()
    rect = run_panel.results.visualItemRect(first)
    with qtbot.waitSignal(run_panel.item_activated) as blocker:
        qtbot.mouseClick(run_panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [str(poison)]


def test_a_store_that_cannot_be_opened_stops_the_run_in_plain_words(
    qtbot, tmp_path: Path, emulator: Emulator, panel
) -> None:
    controller, _paths = session_with_images(tmp_path, 2)
    run_panel: RunPanel = panel(controller)
    not_a_store = tmp_path / "notes.sqlite3"
    not_a_store.write_bytes(b"these are my notes, not a database\n" * 100)
    result = run_to_end(qtbot, run_panel, job_for(controller, emulator.base_url, not_a_store))
    assert result.outcome == "stopped"
    assert run_panel.headline.text().startswith("Stopped: The result store cannot be used")
    assert emulator.requests == []


def test_a_key_no_server_could_take_stops_before_anything_is_sent(
    qtbot, tmp_path: Path, store_path: Path, emulator: Emulator, panel
) -> None:
    controller, _paths = session_with_images(tmp_path, 2)
    run_panel: RunPanel = panel(controller)
    broken = f"{TEST_KEY} x"
    result = run_to_end(
        qtbot, run_panel, job_for(controller, emulator.base_url, store_path, key=broken)
    )
    assert result.outcome == "stopped"
    assert "space or a line break" in result.message
    assert TEST_KEY not in run_panel.headline.text()
    assert emulator.requests == []


def test_run_is_enabled_from_outside_with_a_reason(qtbot, panel) -> None:
    run_panel: RunPanel = panel(new_controller())
    run_panel.set_can_run(False, "Add some images first.")
    assert not run_panel.run_button.isEnabled()
    assert run_panel.reason_label.text() == "Add some images first."
    run_panel.set_can_run(True, "Ready to embed 3 images.")
    assert run_panel.run_button.isEnabled()
    with qtbot.waitSignal(run_panel.run_requested):
        qtbot.mouseClick(run_panel.run_button, Qt.MouseButton.LeftButton)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_offline_practice_runs_are_labelled_emulated(
    qtbot, tmp_path: Path, store_path: Path, panel
) -> None:
    service = OfflineService(free_port(), latency_ms=0, per_image_ms=0)
    endpoint = service.start()
    try:
        controller, _paths = session_with_images(tmp_path, 3)
        run_panel: RunPanel = panel(controller)
        run_panel.set_offline(True)
        assert visible(run_panel.banner, run_panel)
        assert run_panel.banner_label.text() == OFFLINE_BANNER
        job = job_for(controller, endpoint.url, store_path, key=service.key)
        assert service.key == OFFLINE_KEY
        result = run_to_end(qtbot, run_panel, job)
        assert (result.outcome, result.embedded, result.emulated) == ("completed", 3, True)
        assert run_panel.banner_label.text() == OFFLINE_BANNER
        run_panel.set_offline(False)
        assert run_panel.banner_label.text() == EMULATED_BANNER, "the last run was emulated"
    finally:
        service.stop()
    assert not service.running


def test_the_offline_emulator_keeps_its_address_so_its_vectors_are_found_again(
    qtbot, tmp_path: Path, store_path: Path, panel
) -> None:
    preferred = free_port()
    service = OfflineService(preferred, latency_ms=0, per_image_ms=0)
    first = service.start()
    assert service.start() == first, "starting twice changes nothing"
    controller, _paths = session_with_images(tmp_path, 2)
    run_to_end(
        qtbot, panel(controller), job_for(controller, first.url, store_path, key=OFFLINE_KEY)
    )
    service.stop()

    second = service.start()
    try:
        assert second == first
        assert on_preferred_port(service)
        fresh = new_controller()
        add(fresh, [Path(item.path) for item in controller.session.items])
        result = run_to_end(
            qtbot, panel(fresh), job_for(fresh, second.url, store_path, key=OFFLINE_KEY)
        )
        assert (result.embedded, result.cached) == (0, 2)
    finally:
        service.stop()

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", preferred))
        squatter.listen()
        fallback = service.start()
        try:
            assert fallback != first
            assert not on_preferred_port(service)
            assert service.emulator is not None
        finally:
            service.stop()


def on_preferred_port(service: OfflineService) -> bool:
    return service.on_preferred_port


def test_counts_are_said_in_words() -> None:
    assert counts_words(42, 500, 1) == "42 of 500 images embedded, 1 failed"
    assert counts_words(1, 1, 0) == "1 of 1 image embedded"
    assert counts_words(0, 3, 0) == "0 of 3 images embedded"


def test_every_run_setting_reaches_the_worker_as_plain_values(tmp_path: Path) -> None:
    config = RunConfig(Settings(), TEST_KEY, parse_endpoint(None))
    job = RunJob(config, (), tmp_path / "s.sqlite3")
    assert TEST_KEY not in repr(job)
    assert TEST_KEY not in repr(replace(config, concurrency=1))

"""The session behind the window: incremental judging, live settings, plan and run inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

from desktop.core.assess import Sent, assess
from desktop.core.images import probe_file
from desktop.core.models import Settings
from desktop.core.prepare import prepare
from desktop.core.rules import Status
from desktop.core.session import Progress, Session
from tests.imagegen import photo, photo_folder, save


def read_all(session: Session, order: list[int] | None = None) -> None:
    """Probe every item (in *order*, as workers may deliver them) and prepare what needs it."""
    for n in order if order is not None else range(len(session.items)):
        session.set_probe(n, probe_file(session.items[n].path))
    for n in session.needs_prepare():
        probe = session.items[n].probe
        assert probe is not None
        session.set_sent(n, session.key, Sent.of(prepare(probe, session.settings)))


def folder_with_big_photo(tmp_path: Path) -> list[str]:
    paths = [str(p) for p in photo_folder(tmp_path, 3, 80, 60)]
    big = save(photo(2000, 1500), tmp_path / "big.jpg", "JPEG", quality=85)
    return [*paths, str(big)]


def test_items_appear_before_they_are_read_and_fill_in(tmp_path: Path) -> None:
    session = Session()
    added = session.add_paths(folder_with_big_photo(tmp_path))

    assert added == [0, 1, 2, 3]
    assert all(session.progress(n) is Progress.READING for n in added)
    assert session.add_paths([session.items[0].path]) == [], "a path is added once"

    read_all(session)

    assert [item.status for item in session.items] == [Status.OK] * 4
    assert all(session.progress(n) is Progress.READY for n in added)


def test_a_settings_change_rejudges_without_reading_and_prepares_only_what_differs(
    tmp_path: Path,
) -> None:
    session = Session()
    session.add_paths(folder_with_big_photo(tmp_path))
    read_all(session)
    big = 3
    assert [f.code for f in session.items[big].findings] == ["downsampled"]
    assert session.sent_of(big) is not None
    assert session.sent_of(big).width * session.sent_of(big).height <= 2_458_624  # type: ignore[union-attr]

    session.set_settings(Settings(model="embed-english-v3.0"))

    assert session.items[big].findings == [], "v3 does not shrink large images"
    assert session.needs_prepare() == [], "the big photo is now sent as it is..."
    assert session.progress(big) is Progress.READY
    sent = session.sent_of(big)
    assert sent is not None
    assert sent.unchanged, "...byte for byte, known without preparing"
    assert (sent.width, sent.height) == (2000, 1500)
    assert len(session.plan()) == 4, "one image per request on v3"

    session.set_settings(Settings())
    assert session.needs_prepare() == [], "the v4 result was kept"
    assert len(session.plan()) == 1


def test_the_agreement_with_check_holds(tmp_path: Path) -> None:
    """The window's session and the command line's assessment say the same things."""
    paths = folder_with_big_photo(tmp_path)
    shutil.copy(paths[0], tmp_path / "copy.jpg")
    paths.append(str(tmp_path / "copy.jpg"))
    (tmp_path / "broken.jpg").write_bytes(Path(paths[0]).read_bytes()[:300])
    paths.append(str(tmp_path / "broken.jpg"))
    session = Session()
    session.add_paths(paths)
    read_all(session, order=list(reversed(range(len(paths)))))

    result = assess(paths, Settings())

    assert [i.findings for i in session.items] == [i.findings for i in result.items]
    assert session.plan() == result.requests
    assert session.request_findings() == result.findings
    assert session.run_items() == result.run_items()
    assert session.export_items() == result.export_items()


def test_a_duplicate_found_out_of_order_moves_to_the_later_item(tmp_path: Path) -> None:
    first = save(photo(80, 60), tmp_path / "a.png", "PNG")
    shutil.copy(first, tmp_path / "b.png")
    session = Session()
    session.add_paths([str(first), str(tmp_path / "b.png")])

    session.set_probe(1, probe_file(tmp_path / "b.png"))
    assert session.items[1].findings == []
    changed = session.set_probe(0, probe_file(first))

    assert sorted(changed) == [0, 1]
    assert session.items[0].findings == []
    assert [f.code for f in session.items[1].findings] == ["duplicate"]
    assert len(session.run_items()) == 1, "sent and billed once"
    assert len(session.export_items()) == 2, "both get a row"


def test_embedded_and_failed_states_follow_the_run(tmp_path: Path) -> None:
    session = Session()
    session.add_paths(str(p) for p in photo_folder(tmp_path, 2, 80, 60))
    read_all(session)
    sha = session.sent_of(0).sha256  # type: ignore[union-attr]

    session.set_embedded(session.indices_with_sha([sha]))
    session.set_failed(1, "The server refused it (400): bad image")

    assert session.progress(0) is Progress.EMBEDDED
    assert session.progress(1) is Progress.FAILED
    counts = session.counts()
    assert counts["embedded"] == 1
    assert counts["failed"] == 1
    assert counts["ok"] == 2


def test_remove_and_clear_keep_indices_consistent(tmp_path: Path) -> None:
    session = Session()
    session.add_paths(str(p) for p in photo_folder(tmp_path, 4, 80, 60))
    read_all(session)
    last = session.items[3].path

    session.remove([0, 2])

    assert len(session.items) == 2
    assert session.index_of(last) == 1
    assert session.sendable() == [0, 1]
    session.clear()
    assert session.items == []
    assert session.plan() == []
    assert not session.can_run()

"""The media engine on its own: stages, batching, and what happens when a stage fails."""

import threading

import numpy as np
import pytest
from conftest import noise_image, write_video

from stylizer import StylizeError
from stylizer.images import Picture
from stylizer.media import Batch, Failure, Frame, Job, Packets, Sink, Source, run
from stylizer.media.processors import FrameProcessor
from stylizer.pipeline import stylize_video


class Frames(Source):
    """``count`` frames of the given sizes in turn, with a packet after every third frame;
    raises ``error`` after ``fail_after`` frames."""

    def __init__(self, sizes, count, fail_after=None, error=None):
        self.sizes, self.count, self.fail_after, self.error = sizes, count, fail_after, error
        self.closed = False

    def __iter__(self):
        try:
            for i in range(self.count):
                if i == self.fail_after:
                    raise self.error
                h, w = self.sizes[i % len(self.sizes)]
                yield Frame(Picture(np.full((h, w, 3), i, np.uint8)), pts=i)
                if i % 3 == 2:
                    yield Packets([f"packet after {i}"])
        finally:
            self.closed = True


class Recorder(Sink):
    def __init__(self):
        self.batches, self.closed, self.aborted = [], False, None

    def write(self, batch: Batch) -> None:
        self.batches.append(batch)

    def close(self) -> None:
        self.closed = True

    def abort(self, error: BaseException) -> None:
        self.aborted = error


def inverted(frames):
    return [255 - f for f in frames]


def test_frames_come_out_in_order_batched_by_size_with_their_riders():
    sink = Recorder()
    times = run(Frames([(4, 4), (4, 4), (6, 4)], 9), FrameProcessor(inverted, 4), sink)
    assert sink.closed and sink.aborted is None and times.frames == 9
    frames = [f for b in sink.batches for f in b.frames]
    assert [f.pts for f in frames] == list(range(9))
    assert all((f.picture.color == 255 - f.pts).all() for f in frames)
    assert all(len({f.picture.color.shape for f in b.frames}) <= 1 for b in sink.batches)
    assert max(len(b.frames) for b in sink.batches) <= 4
    riders = [p for b in sink.batches for r in b.riders for p in r.packets]
    assert riders == ["packet after 2", "packet after 5", "packet after 8"]


def test_a_source_failure_writes_the_frames_before_it_then_aborts():
    sink, source = Recorder(), Frames([(4, 4)], 10, fail_after=5, error=StylizeError("cut"))
    with pytest.raises(StylizeError, match="cut"):
        run(source, FrameProcessor(inverted, 4), sink)
    assert [f.pts for b in sink.batches for f in b.frames] == [0, 1, 2, 3, 4]
    assert isinstance(sink.aborted, StylizeError) and not sink.closed and source.closed


def test_a_processor_failure_stops_every_stage_and_aborts():
    calls = []

    def failing(frames):
        calls.append(len(frames))
        if len(calls) == 2:
            raise RuntimeError("model fell over")
        return frames

    before = threading.active_count()
    sink, source = Recorder(), Frames([(4, 4)], 1000)
    with pytest.raises(RuntimeError, match="fell over"):
        run(source, FrameProcessor(failing, 2), sink)
    assert isinstance(sink.aborted, RuntimeError) and not sink.closed
    assert len(calls) == 2 and source.closed  # the source stopped reading
    assert threading.active_count() == before  # no stage left running


def test_a_sink_failure_aborts_and_stops_the_source():
    class Full(Recorder):
        def write(self, batch):
            raise OSError("disk full")

    sink, source = Full(), Frames([(4, 4)], 1000)
    with pytest.raises(OSError, match="disk full"):
        run(source, FrameProcessor(inverted, 2), sink)
    assert isinstance(sink.aborted, OSError) and source.closed


def test_single_image_failures_ride_along_and_the_rest_go_on(tmp_path):
    class Images(Source):
        def __iter__(self):
            yield Frame(
                Picture(np.zeros((4, 4, 3), np.uint8)), job=Job(tmp_path / "a", tmp_path / "A")
            )
            yield Failure(Job(tmp_path / "b", tmp_path / "B"), StylizeError("unreadable"))
            yield Frame(
                Picture(np.zeros((4, 4, 3), np.uint8)), job=Job(tmp_path / "c", tmp_path / "C")
            )

    sink = Recorder()
    run(Images(), FrameProcessor(inverted, 4), sink)
    assert [f.job.source.name for b in sink.batches for f in b.frames] == ["a", "c"]
    failures = [r for b in sink.batches for r in b.riders]
    assert [f.job.source.name for f in failures] == ["b"] and sink.closed


def test_a_video_that_fails_leaves_no_file_and_no_temporary_file(tmp_path):
    src = write_video(tmp_path / "in.mkv", [noise_image(32, 32, seed=i) for i in range(12)])
    calls = []

    def failing(frames):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("out of luck")
        return frames

    with pytest.raises(RuntimeError):
        stylize_video(src, tmp_path / "out" / "v.mkv", FrameProcessor(failing, 2))
    assert list((tmp_path / "out").iterdir()) == []

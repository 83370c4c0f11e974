import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import SHARED, run_main, write_video

from stylizer.cli import main
from stylizer.media.processors import FrameProcessor
from stylizer.options import InferenceOptions, RunOptions, VideoOptions
from stylizer.pipeline import Stylizer, stylize_files, stylize_video

VFR_PTS = [0, 40, 80, 200, 240, 500, 533, 566, 900]  # milliseconds, irregular


def make_vfr_video(path: Path, size=(64, 48), audio: bool = True, pts=VFR_PTS) -> None:
    """A variable-frame-rate H.264 video with an AAC tone."""
    w, h = size
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in pts]
    tone = (np.sin(np.arange(48000) / 8) * 0.3).astype(np.float32)
    write_video(path, frames, pts=pts, audio=tone if audio else None)


def frames_and_audio(path: Path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = (v.codec_context.pix_fmt, v.codec_context.width, v.codec_context.height)
        pts = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = [bytes(p) for p in c.demux(audio=0) if p.size] if c.streams.audio else []
        duration = c.duration
    return info, pts, audio, duration


@pytest.mark.parametrize("container", [".mp4", ".mkv"])
def test_vfr_video_keeps_frames_timestamps_and_audio(tmp_path, tiny_weights, container):
    src = tmp_path / f"vfr{container}"
    make_vfr_video(src)
    summary = stylize_files([str(src)], tiny_weights, tmp_path / "out",
                            inference=InferenceOptions(batch_size=3))  # fmt: skip
    assert not summary.failed, summary.failed
    out = tmp_path / "out" / src.name
    (info_in, pts_in, audio_in, dur_in), (info_out, pts_out, audio_out, dur_out) = (
        frames_and_audio(src),
        frames_and_audio(out),
    )
    assert len(pts_out) == len(pts_in) == len(VFR_PTS)
    assert pts_out == pytest.approx(pts_in, abs=1e-3)
    assert audio_out == audio_in and len(audio_in) > 10  # packet for packet, byte-equal
    assert info_out == info_in
    assert abs(dur_out - dur_in) < 50_000  # microseconds
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temp files left


@pytest.mark.skipif(not (SHARED / "videos").is_dir(), reason="no shared videos")
@pytest.mark.parametrize("name", ["cockatoo.mp4", "goat-gray.mp4"])
def test_real_clips_keep_format_and_count(tmp_path, tiny_weights, name):
    src = SHARED / "videos" / name
    # Only the first second: cut with PyAV by stream-copying packets.
    short = tmp_path / name
    with av.open(str(src)) as inp, av.open(str(short), "w") as out:
        s = inp.streams.video[0]
        o = out.add_stream_from_template(s)
        for p in inp.demux(s):
            if p.dts is None or p.pts * s.time_base > 1:
                continue
            p.stream = o
            out.mux(p)
    stylizer = Stylizer(tiny_weights, InferenceOptions(batch_size=4))
    n = stylize_video(
        short, tmp_path / "o" / name, FrameProcessor(stylizer.stylize_frames, 4)
    ).frames
    (info_in, pts_in, _, _), (info_out, pts_out, _, _) = (
        frames_and_audio(short),
        frames_and_audio(tmp_path / "o" / name),
    )
    assert n == len(pts_in) == len(pts_out) > 5
    assert pts_out == pytest.approx(pts_in, abs=1e-3)
    assert info_out[1:] == info_in[1:]
    if "444" in info_in[0]:
        assert "444" in info_out[0]  # no chroma loss for a 4:4:4 source


def test_failure_mid_video_leaves_nothing_or_a_marked_partial(tmp_path, tiny_weights):
    src = tmp_path / "v.mkv"
    make_vfr_video(src, audio=False, pts=range(0, 4000, 40))  # 100 frames
    stylizer = Stylizer(tiny_weights, InferenceOptions(batch_size=2))
    calls = []

    def failing(frames):
        calls.append(len(frames))
        if len(calls) == 45:  # past the encoder's look-ahead, so something was written
            raise RuntimeError("out of luck")
        return stylizer.stylize_frames(frames)

    with pytest.raises(RuntimeError):
        stylize_video(src, tmp_path / "a" / "v.mkv", FrameProcessor(failing, 2))
    assert not list((tmp_path / "a").iterdir())
    calls.clear()
    with pytest.raises(RuntimeError):
        stylize_video(src, tmp_path / "b" / "v.mkv", FrameProcessor(failing, 2),
                      VideoOptions(keep_partial=True))  # fmt: skip
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["v.partial.mkv"]


def test_truncated_video_is_an_error_not_a_short_output(tmp_path, tiny_weights):
    src = tmp_path / "v.mp4"
    make_vfr_video(src, size=(320, 240), audio=False)
    data = src.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    summary = stylize_files([str(tmp_path / "cut.mp4")], tiny_weights, tmp_path / "o")
    assert len(summary.failed) == 1 and "cut.mp4" in summary.failed[0]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    summary = stylize_files([str(tmp_path / "junk.mp4")], tiny_weights, tmp_path / "o")
    assert len(summary.failed) == 1 and "junk.mp4" in summary.failed[0]


FFMPEG = shutil.which("ffmpeg")
#: CI installs the ffmpeg binary (.ci/run), so there these tests run or fail, never skip.
NO_FFMPEG = pytest.mark.skipif(
    FFMPEG is None and not os.environ.get("CI"), reason="no ffmpeg binary"
)


@NO_FFMPEG
def test_ffmpeg_pipeline_end_to_end(tmp_path, tiny_weights):
    """ffmpeg decodes | stylize - --raw | ffmpeg encodes: every frame arrives."""
    out = tmp_path / "piped.mp4"
    decode = [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=96x64:r=12",
              "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    style = [sys.executable, "-m", "stylizer", "-", "--raw", "96x64", "-w", str(tiny_weights), "-q"]
    encode = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "96x64",
              "-r", "12", "-i", "-", "-pix_fmt", "yuv420p", str(out)]  # fmt: skip
    p1 = subprocess.Popen(decode, stdout=subprocess.PIPE)
    p2 = subprocess.Popen(style, stdin=p1.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p1.stdout.close()
    p3 = subprocess.run(encode, stdin=p2.stdout, capture_output=True)
    p2.stdout.close()
    assert p2.wait() == 0 and p1.wait() == 0, p2.stderr.read()
    assert p3.returncode == 0, p3.stderr
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12


@NO_FFMPEG
def test_subtitles_and_audio_are_copied(tmp_path, tiny_weights):
    srt = tmp_path / "s.srt"
    srt.write_text(
        "1\n00:00:00,100 --> 00:00:00,600\nhello\n\n2\n00:00:00,700 --> 00:00:00,900\nbye\n"
    )
    src = tmp_path / "in.mkv"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=10", "-f", "lavfi",
         "-i", "sine=d=1", "-i", str(srt), "-map", "0", "-map", "1", "-map", "2",
         "-c:v", "libx264", "-c:a", "aac", "-c:s", "srt", str(src)],
        check=True,
    )  # fmt: skip
    summary = stylize_files([str(src)], tiny_weights, tmp_path / "o")
    assert not summary.failed, summary.failed

    def packets(path: Path, kind: str) -> list[bytes]:
        with av.open(str(path)) as c:
            stream = next(s for s in c.streams if s.type == kind)
            return [bytes(p) for p in c.demux(stream) if p.size]

    for kind in ("audio", "subtitle"):
        assert packets(tmp_path / "o" / "in.mkv", kind) == packets(src, kind) != []


def test_benchmark_writes_nothing_and_reports_stages(tmp_path, tiny_weights):
    src = tmp_path / "v.mkv"
    make_vfr_video(src)
    lines = []
    summary = stylize_files(
        [str(src)], tiny_weights, tmp_path / "o", run=RunOptions(benchmark=True), log=lines.append
    )
    assert not summary.failed and not (tmp_path / "o").exists()
    assert len(lines) == 1 and f"{len(VFR_PTS)} frames: decode" in lines[0]
    for stage in ("infer", "encode", "overall"):
        assert f"{stage} " in lines[0] and "n/a" not in lines[0]


def run_stylize(args: list[str], weights: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """``stylize ARGS -w WEIGHTS`` in this process, ``stdin`` piped in; bytes out."""
    return run_main(main, [*args, "-w", weights], stdin)


@pytest.mark.parametrize("fmt", ["nut", "matroska", "mpegts"])
def test_container_through_pipes_keeps_frames_and_audio(tmp_path, tiny_weights, fmt):
    src = tmp_path / "in.nut"
    make_vfr_video(src)
    result = run_stylize(["-", "-o", "-", "--format", fmt, "-q"], tiny_weights, src.read_bytes())
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""  # -q: nothing but data, and that on stdout
    out = tmp_path / "out.bin"
    out.write_bytes(result.stdout)
    with av.open(str(out)) as c:
        assert c.format.name.split(",")[0] == fmt
    (_, pts_in, audio_in, _), (_, pts_out, audio_out, _) = (
        frames_and_audio(src),
        frames_and_audio(out),
    )
    assert pts_out == pytest.approx(pts_in, abs=2e-3)
    if fmt == "mpegts":  # MPEG-TS frames AAC with a 7-byte ADTS header; the payload is the same
        assert all(p[:2] == b"\xff\xf1" for p in audio_out)
        audio_out = [p[7:] for p in audio_out]
    assert audio_out == audio_in and audio_in


def test_image_stream_through_pipes(tmp_path, tiny_weights):
    """Concatenated PNG images in, concatenated PNG (or JPEG) images out, one per input."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(5)]
    stream = b"".join(cv2.imencode(".png", im)[1].tobytes() for im in images)
    for fmt, codec in [(None, "png"), ("jpeg", "mjpeg")]:
        args = ["-", "-q", "--temporal", "none"] + (["--format", fmt] if fmt else [])
        result = run_stylize(args, tiny_weights, stream)
        assert result.returncode == 0, result.stderr
        with av.open(io.BytesIO(result.stdout)) as c:
            assert c.streams.video[0].codec_context.name == codec
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(frames) == 5 and frames[0].shape == (40, 56, 3)
    # PNG is lossless: the stream's frames are exactly what the library makes of the images.
    result = run_stylize(["-", "-q", "--temporal", "none"], tiny_weights, stream)
    with av.open(io.BytesIO(result.stdout)) as c:
        piped = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    expected = Stylizer(tiny_weights).stylize_frames([im[:, :, ::-1].copy() for im in images])
    assert all(np.array_equal(a, b) for a, b in zip(piped, expected, strict=True))


def test_video_file_to_stdout_and_stdin_to_file(tmp_path, tiny_weights):
    src = tmp_path / "in.mp4"
    make_vfr_video(src)
    to_stdout = run_stylize([str(src), "-o", "-", "--format", "matroska"], tiny_weights)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert b"9 frames stylized" in to_stdout.stderr
    (tmp_path / "a.mkv").write_bytes(to_stdout.stdout)
    from_stdin = run_stylize(["-", "-o", str(tmp_path / "b.mkv")], tiny_weights, to_stdout.stdout)
    assert from_stdin.returncode == 0, from_stdin.stderr
    for name in ("a.mkv", "b.mkv"):
        _, pts, audio, _ = frames_and_audio(tmp_path / name)
        assert len(pts) == len(VFR_PTS) and len(audio) > 10


def test_pipe_mistakes_are_one_line_errors(tmp_path, tiny_weights):
    cases = [
        (["-", "-q"], b"this is not a video"),
        (["-", "-o", str(tmp_path / "x.txt")], b""),
        (["-", "--format", "png"], None),  # audio cannot go into an image stream
    ]
    src = tmp_path / "in.nut"
    make_vfr_video(src)
    for args, data in cases:
        result = run_stylize(args, tiny_weights, src.read_bytes() if data is None else data)
        assert result.returncode == 1 and result.stdout == b""
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("stylize: error:"), lines
    src_mp4 = tmp_path / "in.mp4"  # its index is at the end: unreadable from a pipe
    make_vfr_video(src_mp4, size=(160, 120))  # larger than what a pipe read buffers
    result = run_stylize(["-"], tiny_weights, src_mp4.read_bytes())
    assert result.returncode == 1 and b"faststart" in result.stderr
    usage = run_stylize([str(src), "-o", str(tmp_path / "o.mkv"), "--format", "nut"], tiny_weights)
    assert usage.returncode == 2 and b"--format is for '-o -'" in usage.stderr


def make_pcm_video(path: Path) -> None:
    """Two seconds of video with 16-bit PCM audio, which WebM cannot hold."""
    frames = [np.full((48, 64, 3), i * 10, np.uint8) for i in range(20)]
    tone = (np.sin(np.arange(88200) / 8) * 3000).astype(np.int16)
    write_video(path, frames, fps=10, audio=tone, audio_codec="pcm_s16le", audio_rate=44100)


def test_audio_the_container_cannot_hold_stops_or_is_reencoded(tmp_path, tiny_weights):
    src = tmp_path / "pcm.mkv"
    make_pcm_video(src)
    out = tmp_path / "o" / "pcm.webm"
    summary = stylize_files([str(src)], tiny_weights, out)
    assert len(summary.failed) == 1 and "--reencode-audio" in summary.failed[0]
    assert not out.parent.exists() or not list(out.parent.iterdir())  # nothing written
    options = VideoOptions(crf=40, reencode_audio=True)
    summary = stylize_files([str(src)], tiny_weights, out, video=options)
    assert not summary.failed, summary.failed
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "opus"
        samples = sum(f.samples for f in c.decode(audio=0))
    assert abs(samples / 48000 - 2.0) < 0.05  # all two seconds of sound, resampled to 48 kHz
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 20
    # MPEG-TS would write PCM as an opaque data stream: refused, or re-encoded to AAC.
    ts = tmp_path / "o" / "pcm.ts"
    summary = stylize_files([str(src)], tiny_weights, ts)
    assert len(summary.failed) == 1 and "--reencode-audio" in summary.failed[0]
    summary = stylize_files([str(src)], tiny_weights, ts, video=options)
    assert not summary.failed, summary.failed
    with av.open(str(ts)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        seconds = sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].sample_rate
    assert abs(seconds - 2.0) < 0.1

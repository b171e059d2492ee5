"""How a pull's progress reads on a terminal and in a log."""

from __future__ import annotations

import io

from bodhi_cli.progress import Display, Progress, bar, bar_line, human_bytes, plain_line

MiB = 1024 * 1024


def progress(status: str, done: int, total: int | None, speed: float = 0.0) -> Progress:
    return Progress(status=status, downloaded=done, total=total, speed=speed)


def test_sizes_are_in_binary_units() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * MiB, 3 * 1024**4)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 TiB",
    ]  # fmt: skip


def test_the_bar_fills_with_the_fraction() -> None:
    assert bar(0.0, 4) == "[....]"
    assert bar(0.5, 4) == "[##..]"
    assert bar(1.0, 4) == "[####]"


def test_a_pending_download_shows_percent_sizes_and_speed() -> None:
    line = bar_line("m.gguf", progress("pending", 3 * MiB, 12 * MiB, 2 * MiB))
    assert line == "m.gguf [########......................]  25% 3.0 MiB / 12.0 MiB 2.0 MiB/s"


def test_an_ended_download_shows_its_status_not_its_speed() -> None:
    line = bar_line("m.gguf", progress("completed", 12 * MiB, 12 * MiB, 2 * MiB))
    assert line.endswith("100% 12.0 MiB / 12.0 MiB completed")
    assert plain_line("m.gguf", progress("error", MiB, None)) == "m.gguf: error 1.0 MiB"


def test_the_fraction_is_unknown_without_a_total_and_capped_at_one() -> None:
    assert progress("pending", 5, None).fraction is None
    assert progress("pending", 5, 0).fraction is None
    assert progress("pending", 15, 10).fraction == 1.0


def test_from_json_reads_the_gateway_fields() -> None:
    data = {"status": "pending", "downloaded_bytes": 10, "total_bytes": None,
            "bytes_per_second": 2.5, "error": None}  # fmt: skip
    assert Progress.from_json(data) == progress("pending", 10, None, 2.5)


def test_a_log_gets_a_line_per_tenth_and_per_status() -> None:
    out = io.StringIO()
    display = Display("f", out, tty=False)
    for done in (0, 1, 5, 15, 16, 100):
        display.show(progress("pending" if done < 100 else "completed", done, 100))
    assert [line.split(": ")[1].split()[1] for line in out.getvalue().splitlines()] == [
        "0%", "15%", "100%",
    ]  # fmt: skip


def test_a_terminal_redraws_one_line_and_ends_it() -> None:
    out = io.StringIO()
    display = Display("f", out, tty=True)
    display.show(progress("pending", 1, 100))
    display.show(progress("completed", 100, 100))
    display.close()
    text = out.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("completed\n")

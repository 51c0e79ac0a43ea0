"""Log lines (python_runtime/logs.py): one text line per record whatever a client puts in
a path or a message, so no second line can be forged; JSON lines stay one JSON object."""

import json
import logging
import socket

import pytest

from python_runtime import logs

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live


def formatted(formatter, message, *args, exc_info=None):
    record = logging.LogRecord("modelkiln", logging.INFO, __file__, 1, message, args, exc_info)
    return formatter.format(record)


@pytest.mark.parametrize("message, line", [
    ("plain /predict", "plain /predict"),
    ("/x\n2099-01-01 INFO forged", "/x\\n2099-01-01 INFO forged"),
    ("a\r\nb", "a\\r\\nb"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00 del\x7f tab\t", "nul\\x00 del\\x7f tab\\t"),
    ("js\u2028line\u2029end", "js\\u2028line\\u2029end"),
    ("caf\u00e9 \u20ac stays", "caf\u00e9 \u20ac stays"),
])
def test_a_text_record_is_one_line_with_control_characters_escaped(message, line):
    assert formatted(logs.TextFormatter("%(message)s"), message) == line


def test_arguments_are_escaped_as_well_as_the_format():
    text = formatted(logs.TextFormatter(logs.TEXT_FORMAT), "%s: 404 %s", "/a\nb", "no route")
    assert "\n" not in text and text.endswith("modelkiln: /a\\nb: 404 no route")


def test_a_traceback_keeps_its_lines_and_escapes_the_exception_message():
    try:
        raise ValueError("bad input\n2099-01-01 00:00:00,000 INFO [1] modelkiln: forged")
    except ValueError:
        import sys
        text = formatted(logs.TextFormatter("%(message)s"), "predict failed",
                         exc_info=sys.exc_info())
    lines = text.splitlines()
    assert lines[0] == "predict failed"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == ("ValueError: bad input\\n2099-01-01 00:00:00,000 INFO [1] modelkiln: "
                         "forged")
    assert all(line.startswith(" ") for line in lines[2:-1]), lines  # frames only


def test_gunicorns_own_lines_keep_their_format_and_are_escaped():
    gunicorn_style = logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                                       "[%Y-%m-%d %H:%M:%S %z]")
    formatter = logs.escaping(gunicorn_style)
    assert isinstance(formatter, logs.TextFormatter)
    assert formatter._fmt == gunicorn_style._fmt and formatter.datefmt == gunicorn_style.datefmt
    assert formatted(formatter, "bad request: a\nb").endswith("[INFO] bad request: a\\nb")


def test_json_lines_escape_the_javascript_line_ends_too():
    text = formatted(logs.JsonFormatter(), "/a\n\u2028b")
    assert "\n" not in text and "\u2028" not in text
    assert json.loads(text)["message"] == "/a\n\u2028b"


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_forged_path_is_logged_on_one_line(serve, log_format):
    server = serve("echo", "Echo", env={"GUNICORN_ACCESS_LOG": "true",
                                        "MODELKILN_LOG_FORMAT": log_format})
    target = "/x%0a%0d2099-01-01%2000:00:00,000%20INFO%20[1]%20modelkiln:%20forged%1b[31m"
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                      % target).encode("ascii"))
        answer = live.read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 404 "), answer
    live.wait_for(lambda: target in server.log(), 10, "the access line")
    forged = [line for line in server.log().splitlines() if "forged" in line]
    assert len(forged) == 2, forged  # the 404 line and the access line, nothing more
    decoded = "/x\n\r2099-01-01 00:00:00,000 INFO [1] modelkiln: forged\x1b[31m"
    if log_format == "json":
        messages = [json.loads(line)["message"] for line in forged]
        assert any(decoded in message for message in messages), messages
    else:
        assert all("\r" not in line and "\x1b" not in line for line in forged), forged
        assert any(logs.escape(decoded) in line for line in forged), forged
        assert not any(line.startswith("2099") for line in forged), forged

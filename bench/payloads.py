"""The four request bodies and the check that a server answered one sanely."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))
from IrisSoftmax import IrisSoftmax  # noqa: E402

SMALL_ROW = [5.1, 3.5, 1.4, 0.2]


def large_rows(n=1000):
    """n deterministic iris-like rows (one decimal, like the real data set)."""
    rows = []
    for i in range(n):
        rows.append(
            [
                round(4.3 + ((i * 7) % 36) / 10, 1),
                round(2.0 + ((i * 11) % 24) / 10, 1),
                round(1.0 + ((i * 13) % 59) / 10, 1),
                round(0.1 + ((i * 17) % 25) / 10, 1),
            ]
        )
    return rows


def make_body(rows, form):
    if form == "ndarray":
        doc = {"data": {"ndarray": rows}}
    else:
        doc = {
            "data": {
                "tensor": {
                    "shape": [len(rows), len(rows[0])],
                    "values": [v for row in rows for v in row],
                }
            }
        }
    return json.dumps(doc, separators=(",", ":"))


class Payload:
    def __init__(self, name, rows, form):
        self.name = name
        self.rows = rows
        self.form = form
        self.body = make_body(rows, form).encode()
        self.expected = IrisSoftmax().predict(rows).tolist()
        self.small = len(rows) == 1

    def check(self, status, raw):
        """Return None if the answer is a 200 with 3 right softmax outputs per row, else why not."""
        if status != 200:
            return "HTTP %s: %s" % (status, raw[:200])
        try:
            data = json.loads(raw)["data"]
            if "ndarray" in data:
                got = data["ndarray"]
            elif "tensor" in data:
                shape, values = data["tensor"]["shape"], data["tensor"]["values"]
                if list(shape) != [len(self.rows), 3] or len(values) != 3 * len(self.rows):
                    return "tensor shape %s / %d values" % (shape, len(values))
                got = [values[i : i + 3] for i in range(0, len(values), 3)]
            else:
                return "no ndarray or tensor in %r" % raw[:200]
        except (ValueError, KeyError, TypeError) as e:
            return "unparsable answer (%s): %r" % (e, raw[:200])
        if len(got) != len(self.rows):
            return "%d rows back for %d sent" % (len(got), len(self.rows))
        for g, e in zip(got, self.expected):
            if len(g) != 3:
                return "row with %d outputs" % len(g)
            if any(not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(g, e)):
                return "wrong values: %s, expected %s" % (g, e)
        return None


def all_payloads():
    big = large_rows()
    return [
        Payload("small-ndarray", [SMALL_ROW], "ndarray"),
        Payload("small-tensor", [SMALL_ROW], "tensor"),
        Payload("1000x4-ndarray", big, "ndarray"),
        Payload("1000x4-tensor", big, "tensor"),
    ]

"""A class that only streams: predict_stream() spells a text, one piece per character (a V2
BYTES input of one element, or Seldon's strData), or gives an array's rows one at a time.

The request's parameters (V2) or tags (Seldon's meta) steer it: ``delay`` seconds before each
piece, ``repeat`` the text that many times, ``size`` makes each piece that many copies of its
character, and ``marker`` names a file the generator writes its piece count to as it goes and
" closed" to when it ends (its ``finally``), so a test can see how far it got and that it was
stopped. The character "!" makes it raise after the pieces before it.
"""

import time


class Spells(object):
    def predict_stream(self, X, features_names=None, meta=None):
        tags = (meta or {}).get("tags") or {}
        delay = float(tags.get("delay", 0))
        marker = tags.get("marker")
        size = int(tags.get("size", 1))
        if hasattr(X, "ravel") and X.dtype.kind in "OSU" and X.size == 1:
            X = X.ravel()[0]
        if isinstance(X, bytes):
            X = X.decode("utf-8")
        pieces = X * int(tags.get("repeat", 1)) if isinstance(X, str) else X
        sent = 0
        try:
            for piece in pieces:
                if delay:
                    time.sleep(delay)
                if piece == "!":
                    raise ValueError("the model cannot spell '!'")
                sent += 1
                if marker:
                    with open(marker, "w") as handle:
                        handle.write(str(sent))
                yield piece * size if isinstance(piece, str) else [list(piece)]
        finally:
            if marker:
                with open(marker, "a") as handle:
                    handle.write(" closed")

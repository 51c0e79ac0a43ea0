"""The streaming benchmark's model (bench/streaming.py): a generator with no model cost, so the
servers' own cost per piece is what is measured. Served unchanged by modelkiln (V2's
generate_stream: the class's generate_stream(request)) and by MLServer (through
mlserver_gen.py, beside it, on the same ``pieces`` function).

Each piece is one word of the request's text and the time.time() at which it was yielded, so
the client can tell how long a piece took from the generator to it.
"""

import time


def pieces(text):
    """(word, time yielded) for each word of ``text``."""
    for word in text.split():
        yield word, time.time()


class Gen(object):
    def generate_stream(self, request):
        for word, yielded in pieces(request["text_input"]):
            yield {"text_output": word, "yielded": yielded}

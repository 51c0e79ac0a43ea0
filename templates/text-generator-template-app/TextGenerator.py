"""A streaming text model, as a starting point: replace the toy generator with yours.

There are no weights here. The "model" continues a prompt deterministically, from a small
vocabulary picked by the prompt's letters, so the examples always get the same words. What
matters is the shape:

- ``predict_stream(X, features_names)``: a generator, one piece (a word) per ``yield``. It
  answers Seldon's predictions as Server-Sent Events (``Accept: text/event-stream``) and V2's
  ``generate_stream`` (the request's ``text_input`` is ``X``). Without a stream, the same
  routes answer the pieces joined.
- ``chat_completions(request)`` and ``completions(request)``: OpenAI's routes (``/v1/...``).
  Yield text pieces; with ``"stream": true`` each goes out as an OpenAI chunk.
- ``embeddings(request)``: one vector per input.

Each piece is produced on one of the worker's stream threads when the client has taken the
previous one; a client that goes away closes the generator (``finally`` runs).
"""

import time

import numpy as np

VOCABULARY = ["the", "model", "streams", "one", "word", "at", "a", "time", "and", "stops"]


class TextGenerator(object):
    def __init__(self, words=8, delay=0.0):
        self.words = int(words)    # pieces per answer
        self.delay = float(delay)  # seconds before each piece (a stand-in for a model step)

    def load(self):
        """Load weights here (once per worker, before it is ready)."""

    def _continue(self, prompt, count=None):
        start = sum(ord(c) for c in str(prompt)) % len(VOCABULARY)
        for step in range(count or self.words):
            if self.delay:
                time.sleep(self.delay)
            yield VOCABULARY[(start + step) % len(VOCABULARY)]

    def predict_stream(self, X, features_names=None):
        prompt = X if isinstance(X, str) else " ".join(str(x) for x in np.ravel(X))
        for word in self._continue(prompt):
            yield word + " "

    def chat_completions(self, request):
        messages = request.get("messages") or [{}]
        prompt = str(messages[-1].get("content", ""))
        for word in self._continue(prompt, request.get("max_tokens")):
            yield word + " "

    def completions(self, request):
        for word in self._continue(request["prompt"], request.get("max_tokens")):
            yield word + " "

    def embeddings(self, request):
        texts = request["input"] if isinstance(request["input"], list) else [request["input"]]
        vectors = []
        for text in texts:
            counts = np.zeros(4)
            for char in str(text):
                counts[ord(char) % 4] += 1.0
            norm = np.linalg.norm(counts)
            vectors.append((counts / norm if norm else counts).tolist())
        return vectors

"""The test model of tests/openai: a tiny deterministic text generator (no weights).

chat_completions() echoes the last message's words one piece at a time (a generator);
completions() answers in one piece, or as a generator of characters when the prompt starts
with "spell:"; embeddings() gives each input [its length, 1, 0.5]. A request may ask for
``"delay"`` seconds before each piece, and name a ``"marker"`` file the generator writes its
piece count to as it goes and "closed" to when it ends (finally), so a test can see how far a
generator got and that it was stopped.
"""

import time


class Chatty(object):
    def predict(self, X, features_names=None):
        return X

    def chat_completions(self, request):
        words = str(request["messages"][-1].get("content", "")).split()
        delay = float(request.get("delay", 0))
        marker = request.get("marker")
        size = int(request.get("piece_bytes", 0))
        sent = 0
        try:
            for word in words * int(request.get("repeat", 1)):
                if word == "boom":
                    raise ValueError("the model cannot say boom")
                if delay:
                    time.sleep(delay)
                sent += 1
                if marker:
                    with open(marker, "w") as handle:
                        handle.write(str(sent))
                yield (word + " ") if not size else word + "." * size
        finally:
            if marker:
                with open(marker, "a") as handle:
                    handle.write(" closed")

    def completions(self, request):
        prompt = str(request["prompt"])
        if prompt.startswith("spell:"):
            return iter(list(prompt[len("spell:"):]))
        return "echo: " + prompt

    def embeddings(self, request):
        inputs = request["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        return [[float(len(text)), 1.0, 0.5] for text in inputs]

    def models(self):
        return ["chatty", {"id": "chatty-large", "owned_by": "tests"}]

    def predict_stream(self, X, features_names=None):
        """Seldon predictions with Accept: text/event-stream, and V2 generate_stream's
        text_input: the words of a text, or the rows of an array, one piece each."""
        if isinstance(X, str):
            for word in X.split():
                if word == "boom":
                    raise ValueError("the model cannot say boom")
                yield word
        else:
            for row in X:
                yield [list(row)]

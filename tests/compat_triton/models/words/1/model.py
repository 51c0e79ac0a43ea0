"""A decoupled model: for each request, one response per whitespace-separated word of TEXT
(WORD the word, INDEX its position), sent with the request's response sender, then the final
flag alone; execute returns None. The word "fail" is sent as a response holding an error and
the words after it follow; "raise" anywhere in a request makes execute raise before anything is
sent; a text without words gets the final flag only; "later" as the first word sends the words
from a thread started by execute, after execute has returned."""

import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.threads = []

    def execute(self, requests):
        texts = [pb_utils.get_input_tensor_by_name(r, "TEXT").as_numpy().ravel()[0]
                 for r in requests]
        for text in texts:
            if b"raise" in text.split():
                raise pb_utils.TritonModelException("asked to raise")
        for request, text in zip(requests, texts):
            words = text.split()
            sender = request.get_response_sender()
            if words[:1] == [b"later"]:
                thread = threading.Thread(target=self.send, args=(sender, words, 0.05))
                thread.start()
                self.threads = [t for t in self.threads if t.is_alive()] + [thread]
            else:
                self.send(sender, words)
        return None

    @staticmethod
    def send(sender, words, delay=0.0):
        if delay:
            time.sleep(delay)  # after execute has returned
        for index, word in enumerate(words):
            if word == b"fail":
                sender.send(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError("cannot send word 'fail'")))
                continue
            sender.send(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("WORD", np.array([word], dtype=np.object_)),
                pb_utils.Tensor("INDEX", np.array([index], dtype=np.int32))]))
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def finalize(self):
        for thread in self.threads:
            thread.join()

"""The MLServer runtime of bench/streaming.py: Gen.pieces (this folder) as MLServer's
predict_stream, answered on its generate_stream route (one InferenceResponse per piece, as
Server-Sent Events). Bench-only code.

model-settings.json: ``"implementation": "mlserver_gen.GenRuntime"``, with this folder on
PYTHONPATH. The request is V2's: one BYTES input holding the text.
"""

from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import InferenceResponse, ResponseOutput

from Gen import pieces


class GenRuntime(MLModel):
    async def load(self) -> bool:
        return True

    async def predict_stream(self, payloads):
        async for payload in payloads:
            text = StringCodec.decode_input(payload.inputs[0])[0]
            for word, yielded in pieces(text):
                yield InferenceResponse(
                    model_name=self.name,
                    outputs=[StringCodec.encode_output("text_output", [word]),
                             ResponseOutput(name="yielded", datatype="FP64", shape=[1],
                                            data=[yielded])])

class Passthrough:
    """predict_raw with PAYLOAD_PASSTHROUGH: receives the undecoded body."""

    def predict_raw(self, msg):
        if isinstance(msg, (bytes, bytearray)):
            return bytes(msg).replace(b"ping", b"pong")
        if isinstance(msg, str):
            return msg.replace("ping", "pong")
        return {"jsonData": {"decoded": True}}

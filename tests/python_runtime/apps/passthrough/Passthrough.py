"""predict_raw gets the raw body (PAYLOAD_PASSTHROUGH) and answers it reversed."""


class Passthrough(object):
    def predict_raw(self, message):
        if not isinstance(message, bytes):
            return b"not bytes: " + type(message).__name__.encode()
        return message[::-1]

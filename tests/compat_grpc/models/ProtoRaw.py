class ProtoRaw:
    """predict_raw as written for seldon-core's gRPC server, which passes the SeldonMessage
    proto itself and sends back the SeldonMessage it returns. Duck-typed, so it imports
    nothing from seldon_core."""

    def predict_raw(self, request):
        reply = type(request)()
        reply.strData = request.strData.upper()
        if request.meta.puid:
            reply.meta.puid = request.meta.puid
        reply.meta.tags["raw"].bool_value = True
        return reply

"""gRPC server reflection (``grpc.reflection.v1alpha`` and ``v1``): what grpcurl and other
generic clients ask to learn the services, with the descriptors of ``protos``.

Each request message gets one response message: the services served, or the file that
declares a file name or symbol with every file it depends on (the client builds its pool
from them), or an error_response (NOT_FOUND) for a name the pool does not know.
"""

from typing import Any, Callable, Dict

from .protos import REFLECTION_PACKAGES

NOT_FOUND, UNIMPLEMENTED = 5, 12
METHOD = "ServerReflectionInfo"


class Reflection(object):
    """Answers for the services in ``protos`` (reflection itself included)."""

    def __init__(self, protos: Any) -> None:
        self.pool = protos.pool
        self.service_names = sorted(protos.services)
        self.responses = {package: protos.message(package + ".ServerReflectionResponse")
                          for package in REFLECTION_PACKAGES}

    def handlers(self) -> Dict[str, Dict[str, Callable[[Any], Any]]]:
        return {package + ".ServerReflection": {METHOD: self._answerer(package)}
                for package in REFLECTION_PACKAGES}

    def _answerer(self, package: str) -> Callable[[Any], Any]:
        response_class = self.responses[package]

        def answer(request: Any) -> Any:
            return self.answer(request, response_class())

        return answer

    def answer(self, request: Any, out: Any) -> Any:
        out.valid_host = request.host
        out.original_request.CopyFrom(request)
        which = request.WhichOneof("message_request")
        try:
            if which == "list_services":
                for name in self.service_names:
                    out.list_services_response.service.add(name=name)
            elif which == "file_by_filename":
                self._files(out, self.pool.FindFileByName(request.file_by_filename))
            elif which == "file_containing_symbol":
                self._files(out, self.pool.FindFileContainingSymbol(
                    request.file_containing_symbol))
            elif which == "all_extension_numbers_of_type":
                name = request.all_extension_numbers_of_type
                self.pool.FindMessageTypeByName(name)  # KeyError when unknown
                out.all_extension_numbers_response.base_type_name = name  # none declared
            elif which == "file_containing_extension":
                ask = request.file_containing_extension
                raise KeyError("no extension %d of %s" % (ask.extension_number,
                                                          ask.containing_type))
            else:
                out.error_response.error_code = UNIMPLEMENTED
                out.error_response.error_message = "unknown reflection request %r" % which
        except KeyError as exc:
            out.ClearField("message_response")
            out.error_response.error_code = NOT_FOUND
            out.error_response.error_message = "not found: %s" % (exc.args[0] if exc.args
                                                                   else which)
        return out

    def _files(self, out: Any, found: Any) -> None:
        """``found`` and everything it imports, the file itself first."""
        seen = set()  # type: Set[str]
        order = []  # type: List[Any]
        stack = [found]
        while stack:
            descriptor = stack.pop()
            if descriptor.name in seen:
                continue
            seen.add(descriptor.name)
            order.append(descriptor)
            stack.extend(descriptor.dependencies)
        out.file_descriptor_response.file_descriptor_proto.extend(
            descriptor.serialized_pb for descriptor in order)

from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.user_model import SeldonComponent, SeldonResponse


class SeldonImports(SeldonComponent):
    def predict(self, X, names):
        if X == "refuse":
            raise SeldonMicroserviceException("refused", status_code=409, reason="NO")
        return SeldonResponse(X, tags={"t": 1})

"""What most teams write: a FastAPI endpoint with a Pydantic body, calling the same user class
(a plain ``def``: FastAPI runs it in its thread pool, as it does model code).

    uvicorn --app-dir bench asgi_fastapi:app --http httptools --loop uvloop --no-access-log
"""
import os
import sys
from typing import List, Optional

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))
from IrisSoftmax import IrisSoftmax  # noqa: E402

model = IrisSoftmax()
app = FastAPI()


class Tensor(BaseModel):
    shape: List[int]
    values: List[float]


class Data(BaseModel):
    ndarray: Optional[List[List[float]]] = None
    tensor: Optional[Tensor] = None


class Message(BaseModel):
    data: Data


@app.get("/")
def ready():
    return "ok"


@app.post("/api/v1.0/predictions")
def predict(message: Message):
    data = message.data
    if data.tensor is not None:
        X = np.array(data.tensor.values, dtype=np.float64).reshape(data.tensor.shape)
        y = model.predict(X, None)
        return {"data": {"tensor": {"shape": list(y.shape), "values": y.ravel().tolist()}}}
    return {"data": {"ndarray": model.predict(np.array(data.ndarray), None).tolist()}}

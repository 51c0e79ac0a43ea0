"""A package holding the model; MODEL_NAME is the dotted path of the class."""

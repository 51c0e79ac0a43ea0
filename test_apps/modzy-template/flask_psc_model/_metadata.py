import os

from box import Box  # python-box: not installed where modelkiln serves the folder


def load_metadata(path_hint, filename='model.yaml'):
    folder = os.path.dirname(os.path.abspath(path_hint))
    return Box.from_yaml(filename=os.path.join(folder, filename), frozen_box=True)

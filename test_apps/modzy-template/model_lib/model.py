import json
import math
import re

from flask_psc_model import ModelBase, load_metadata

PALETTE = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "orange": (255, 165, 0),
    "purple": (128, 0, 128),
    "gray": (128, 128, 128),
}
HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class ColorNamePredictorModel(ModelBase):

    #: the file names come from model.yaml, as the template's sample model reads them
    metadata = load_metadata(__file__)
    input_filenames = list(metadata.inputs)
    output_filenames = list(metadata.outputs)

    def __init__(self):
        self.palette = dict(PALETTE)

    def run(self, input_path, output_path):
        with open(input_path, "r", encoding="utf-8") as handle:
            text = handle.read().strip()
        match = HEX.match(text)
        if not match:
            raise ValueError("invalid hex colour %r: expected six hex digits such as ffaa00"
                             % text[:40])
        digits = match.group(1).lower()
        rgb = tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
        name, distance = min(((name, math.sqrt(sum((a - b) ** 2 for a, b in zip(rgb, ref))))
                              for name, ref in self.palette.items()), key=lambda x: x[1])
        with open(output_path, "w", encoding="utf-8") as handle:
            json.dump({"color": name, "hex": "#" + digits, "rgb": list(rgb),
                       "distance": round(distance, 3)}, handle)


if __name__ == '__main__':
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument('input')
    parser.add_argument('output')
    options = parser.parse_args()
    ColorNamePredictorModel().run(options.input, options.output)

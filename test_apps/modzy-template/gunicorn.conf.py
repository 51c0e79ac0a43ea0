# The template's server configuration: modelkiln does not read it (it serves the Modzy API on
# PSC_MODEL_PORT, else its REST port, and applies model.yaml's timeout itself).
import math
import os

from humanfriendly import parse_timespan

from flask_psc_model import load_metadata

bind = ':%s' % os.environ.get('PSC_MODEL_PORT', '80')
timeout = max(math.ceil(parse_timespan(str(value)))
              for value in load_metadata(__file__).timeout.values())

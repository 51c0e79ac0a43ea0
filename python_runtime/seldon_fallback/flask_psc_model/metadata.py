"""``load_metadata``: the folder's ``model.yaml``, found from a path inside the folder."""

import functools
import os


class FrozenMetadata(dict):
    """A read-only mapping whose keys are also attributes (``metadata.inputs``); nested
    mappings are too, and lists become tuples."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError("model.yaml has no %r" % name) from None

    def _read_only(self, *args, **kwargs):
        raise TypeError("model metadata is read-only")

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __hash__(self):
        return hash(tuple(sorted(self.items(), key=lambda item: str(item[0]))))

    def __reduce__(self):  # copy, deepcopy and pickle build it whole, never item by item
        return (FrozenMetadata, (dict(self),))

    def to_dict(self):
        """A plain, writable copy."""
        return _thawed(self)


def _frozen(value):
    if isinstance(value, dict):
        return FrozenMetadata((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


def _thawed(value):
    if isinstance(value, dict):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    return value


def find_upwards(path_hint, filename):
    """``filename`` in the folder of ``path_hint`` or the nearest folder above it."""
    if not os.path.exists(path_hint):
        raise IOError("%s does not exist: give a path inside the model folder (e.g. "
                      "__file__)" % path_hint)
    folder = os.path.abspath(path_hint)
    if os.path.isfile(folder):
        folder = os.path.dirname(folder)
    while True:
        candidate = os.path.join(folder, filename)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            raise IOError("no %s in %s or any folder above it" % (filename, path_hint))
        folder = parent


@functools.lru_cache(maxsize=None)
def _load(path):
    import yaml

    with open(path, "r", encoding="utf-8") as handle:
        return _frozen(yaml.safe_load(handle))


def load_metadata(path_hint, filename="model.yaml"):
    """The nearest ``filename`` (``model.yaml``) at or above ``path_hint``, read as YAML (or
    JSON) into a read-only mapping with attribute access: ``load_metadata(__file__).inputs``.
    Raises IOError when there is none. Read once per file."""
    return _load(find_upwards(path_hint, filename))

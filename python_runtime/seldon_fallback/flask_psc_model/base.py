"""``ModelBase``: what a Modzy template model class provides."""

from abc import ABC, abstractmethod

#: what the server reads from a model object (the template's contract)
ATTRIBUTES = ("run", "input_filenames", "output_filenames", "validation_exception_class",
              "io_exception_class")


class ModelBase(ABC):
    """Base class of a Modzy template model.

    A subclass sets ``input_filenames`` and ``output_filenames`` (a file name, or a list of
    them) and defines ``run``, which the server calls with the job's input file paths followed
    by its output file paths, in the order of those lists::

        class ColourNames(ModelBase):
            input_filenames = ["input.txt"]
            output_filenames = ["results.json"]

            def run(self, input_path, output_path):
                ...

    ``run`` raises ``validation_exception_class`` (``ValueError`` unless overridden) for input
    the model cannot process: the job answers 422 with the exception's text. It raises
    ``io_exception_class`` (``IOError``) with ``filename`` set when a job file cannot be read
    or written: 400. Anything else is a 500.
    """

    @abstractmethod
    def run(self, *paths):
        """Read the input files, write the output files (paths in the order above)."""

    @property
    @abstractmethod
    def input_filenames(self):
        """A file name or a list of them: what the model reads from a job's input folder."""

    @property
    @abstractmethod
    def output_filenames(self):
        """A file name or a list of them: what the model writes to a job's output folder."""

    @property
    def validation_exception_class(self):
        """The exception ``run`` raises for input it cannot process (its text is the 422's
        message)."""
        return ValueError

    @property
    def io_exception_class(self):
        """The exception ``run`` raises when a job file cannot be read or written; its
        ``filename`` names the file."""
        return IOError

    @classmethod
    def __subclasshook__(cls, other):
        # A class that has all five (none of them None) counts as a ModelBase, as in the
        # template: isinstance() holds for duck-typed models too.
        if cls is not ModelBase:
            return NotImplemented
        for name in ATTRIBUTES:
            owner = next((klass for klass in other.__mro__ if name in vars(klass)), None)
            if owner is None or vars(owner)[name] is None:
                return NotImplemented
        return True

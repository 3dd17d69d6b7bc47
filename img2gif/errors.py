"""The few exception types the CLI turns into one-line messages (exit code 2)."""


class Img2GifError(Exception):
    """Base class: a problem the user can fix; printed as one line, never a traceback."""


class InputError(Img2GifError):
    """An input file (image, checkpoint) is missing, unreadable or unsuitable."""


class OutputError(Img2GifError):
    """The output path cannot be written or its format is unknown."""


class PluginError(Img2GifError):
    """A backend name is unknown or its plugin failed to load."""


class OptionError(Img2GifError):
    """Options contradict each other or are out of range."""


class WorkLimitError(Img2GifError):
    """A warp needs more computing than img2gif allows (an adaptive solver that keeps
    shrinking its steps, a file asking for hours of work)."""

"""The one error type of the data sets."""


class DatasetError(Exception):
    """A data problem a user can fix; its message is one line saying how."""

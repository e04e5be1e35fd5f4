"""Date and time formats where Django's own read wrongly (``FORMAT_MODULE_PATH``)."""

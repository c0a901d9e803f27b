"""The one error type the message bridge raises."""


class MessageError(ValueError):
    """A message that cannot be converted. ``field`` names the offending field."""

    def __init__(self, msg_type: str, field: str, reason: str) -> None:
        self.msg_type = msg_type
        self.field = field
        self.reason = reason
        super().__init__(f"{msg_type}.{field}: {reason}")

"""The refusals the services raise, each with a message for the person who asked."""


class TransitionNotAllowed(Exception):
    """A change this user may not make now; the message says why, plainly."""


class SubmissionIncomplete(Exception):
    """The referral lacks what the practice needs; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(message for _field, message in problems))

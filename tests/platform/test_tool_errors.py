"""A tool's job error: bad input is said by its message alone; a bug says where it happened."""
from digits.dataset.parse import ParseError
from digits.tools.common import error_message


def _raise(exc):
    raise exc


def test_bad_input_is_its_message_alone():
    try:
        _raise(ParseError("no training images found in the 2 class folders"))
    except ParseError as exc:
        assert error_message(exc) == "no training images found in the 2 class folders"


def test_a_bug_says_where():
    try:
        _raise(KeyError("width"))
    except KeyError as exc:
        message = error_message(exc)
    assert message.startswith("KeyError: 'width' (at ") and "test_tool_errors.py line" in message

"""One e-mail address rule for pages and API alike.

The API's marshmallow `fields.Email` checks the syntax only. WTForms' `Email()`
goes through email-validator, which also refuses special-use domains (.local,
.test, localhost) as not deliverable on the public internet; a self-hosted
install uses them (the demo creator is demo@creatorhub.local), so the forms
use the API's rule instead.
"""

from marshmallow import ValidationError
from marshmallow.validate import Email as _EmailRule
from wtforms.validators import ValidationError as FormError

MESSAGE = "Invalid email address."
_rule = _EmailRule(error=MESSAGE)


def is_email(value: str) -> bool:
    try:
        _rule(value)
    except ValidationError:
        return False
    return True


class EmailAddress:
    """WTForms validator with the same rule as the API's `fields.Email`."""

    def __call__(self, form, field):
        if not is_email(field.data or ""):
            raise FormError(MESSAGE)

"""The sign-in form: Django's, with the user name's length enforced before anything else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing a user name longer than any account can have.

    ``AuthenticationForm`` sets the field's ``max_length`` after the field is built, which
    changes the widget's ``maxlength`` but adds no validator: a longer name typed past the
    browser reached ``authenticate`` and the login-attempt log (a 255-character column), where
    PostgreSQL refused it and the page answered 500.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        assert isinstance(field, forms.CharField)
        field.error_messages["required"] = "Enter your user name."
        self.fields["password"].error_messages["required"] = "Enter your password."
        field.validators.append(
            MaxLengthValidator(
                field.max_length,
                message=f"A user name has at most {field.max_length} characters.",
            )
        )

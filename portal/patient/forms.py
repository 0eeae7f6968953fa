"""Participant forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp


class PhoneForm(FlaskForm):
    phone = StringField(
        _l("Your mobile number"),
        validators=[DataRequired(message=_l("Please enter your mobile number.")), Length(max=30)],
        render_kw={"autocomplete": "tel", "inputmode": "tel", "type": "tel"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("The 6-digit code from the text message"),
        validators=[
            DataRequired(message=_l("Please enter the 6-digit code.")),
            Regexp(r"^\s*\d{6}\s*$", message=_l("The code has 6 digits. Please check and try again.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"},
    )
    keep = BooleanField(_l("Keep me signed in on this phone for 30 days"))


class EmptyForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class RescheduleForm(FlaskForm):
    # Plain text fields shown as date pickers; the domain parses them and checks the window.
    date_1 = StringField(_l("First choice"), render_kw={"type": "date"})
    date_2 = StringField(_l("Second choice (optional)"), render_kw={"type": "date"})
    date_3 = StringField(_l("Third choice (optional)"), render_kw={"type": "date"})
    note = TextAreaField(_l("Anything the study team should know (optional)"), validators=[Length(max=500)])


class SmsForm(FlaskForm):
    enabled = BooleanField(_l("Send me reminders by text message"))

"""Console forms (Flask-WTF: CSRF on every post)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


def options(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as a select's options: WTForms 3.3 deprecates plain tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


LANGUAGE_CHOICES = options([("zh_Hans_CN", "中文"), ("en", "English")])
GRADE_CHOICES = options([("", "—"), ("1", _l("1 – none")), ("2", _l("2 – mild / moderate")),
                         ("3", _l("3 – severe"))])


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=20)])  # fmt: skip


class EnrolTotpForm(FlaskForm):
    code = StringField(_l("6-digit code shown by the app"), validators=[DataRequired(), Length(min=6, max=8)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password (at least 12 characters)"), validators=[DataRequired(), Length(max=256)])


class EnrolForm(FlaskForm):
    study_code = StringField(_l("Study ID"), validators=[DataRequired(), Length(max=40)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=40)])
    preferred_locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    arm = SelectField(_l("Arm"), choices=[])
    site = SelectField(_l("Site"), choices=[])
    day0 = DateField(_l("Day 0"), validators=[DataRequired()])


class EditParticipantForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=40)])
    preferred_locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    sms_opt_out = BooleanField(_l("No SMS (opted out)"))
    reason = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class EndParticipationForm(FlaskForm):
    status = SelectField(_l("Outcome"), choices=options([("withdrawn", _l("Withdrawn")),
                                                         ("completed", _l("Completed")),
                                                         ("deceased", _l("Deceased"))]))  # fmt: skip
    on = DateField(_l("Date"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class VisitForm(FlaskForm):
    action = SelectField(_l("Action"), choices=options([("schedule", _l("Schedule or reschedule")),
                                                        ("attended", _l("Attended")), ("missed", _l("Missed")),
                                                        ("cancelled", _l("Cancel"))]))  # fmt: skip
    day = DateField(_l("Date"), validators=[Optional()])
    at = TimeField(_l("Time"), validators=[Optional()])
    reason = StringField(_l("Reason (required outside the window)"), validators=[Optional(), Length(max=500)])


class AcceptRequestForm(FlaskForm):
    day = SelectField(_l("Proposed date"), choices=[])
    at = TimeField(_l("Time"), validators=[Optional()])
    reason = StringField(_l("Reason (required outside the window)"), validators=[Optional(), Length(max=500)])


class DeclineRequestForm(FlaskForm):
    message = TextAreaField(_l("Message to the participant"), validators=[DataRequired(), Length(max=300)])


class MessageForm(FlaskForm):
    template = SelectField(_l("Template"), choices=[], validators=[Optional()])
    body = TextAreaField(_l("Message"), validators=[Optional(), Length(max=400)])


class BulkForm(FlaskForm):
    site = SelectField(_l("Site"), choices=[])
    within_days = SelectField(_l("Participants with a visit in the next"),
                              choices=options([("", _l("any time")), ("7", _l("7 days")), ("14", _l("14 days"))]),
                              validators=[Optional()])  # fmt: skip
    template = SelectField(_l("Template"), choices=[])
    confirm = HiddenField()


class PanelForm(FlaskForm):
    collected_on = DateField(_l("Collection date"), validators=[DataRequired()])
    ascites = SelectField(_l("Ascites"), choices=GRADE_CHOICES, validators=[Optional()])
    encephalopathy = SelectField(_l("Encephalopathy"), choices=GRADE_CHOICES, validators=[Optional()])
    on_dialysis = BooleanField(_l("Dialysis twice or more in the past week"))


class CorrectionForm(FlaskForm):
    analyte = SelectField(_l("Test"), choices=[])
    value = StringField(_l("Corrected value"), validators=[DataRequired(), Length(max=20)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ReleaseForm(FlaskForm):
    notify = BooleanField(_l("Send a neutral SMS: new information is available in the portal"), default=True)


class ConsentUploadForm(FlaskForm):
    label = StringField(_l("Version label"), validators=[DataRequired(), Length(max=40)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    effective_date = DateField(_l("Effective date"), validators=[DataRequired()])
    requires_reconsent = BooleanField(_l("Requires re-consent"))
    file = FileField(_l("PDF file"), validators=[FileRequired()])


class ConsentRecordForm(FlaskForm):
    version = SelectField(_l("Version"), choices=[])
    signed_on = DateField(_l("Signed on"), validators=[DataRequired()])


class StaffForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=options([("coordinator", _l("Coordinator")),
                                                    ("investigator", _l("Investigator")),
                                                    ("admin", _l("Admin"))]))  # fmt: skip
    sites = StringField(_l("Site codes (comma separated)"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("Temporary password"), validators=[DataRequired(), Length(max=256)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("Temporary password"), validators=[DataRequired(), Length(max=256)])
    reset_second_factor = BooleanField(_l("Also reset the authenticator app"))


class DeactivateStaffForm(FlaskForm):
    reason = StringField(_l("Reason for deactivating"), validators=[DataRequired(), Length(max=500)])


class ReactivateStaffForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])

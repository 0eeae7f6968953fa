"""The volunteer enquiry form: Flask-WTF for CSRF; the domain (portal.enquiries) checks the values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField


class EnquiryForm(FlaskForm):
    site = StringField(_l("Which study site is closest to you?"))
    full_name = StringField(_l("Your name"), render_kw={"autocomplete": "name", "maxlength": "80"})
    phone = StringField(
        _l("Mobile number we may call"),
        render_kw={"autocomplete": "tel", "inputmode": "tel", "type": "tel", "maxlength": "30"},
    )
    preferred_locale = StringField(_l("Language for our call and text message"))
    call_time = StringField(_l("Best time to call"))
    message = TextAreaField(_l("Anything you would like us to know (optional)"), render_kw={"maxlength": "500"})
    consent = BooleanField(_l("I agree that the study team may call me and send me a text message about this study."))
    # Hidden from people (CSS and aria-hidden); robots fill it in.
    website = StringField(_l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"})

import pytest
from sqlalchemy.orm import Session

from portal.audit import SYSTEM
from portal.staff_accounts import StaffAccountError, upsert_staff

PASSWORD = "correct horse battery staple"


def test_the_last_active_admin_cannot_be_given_another_role(db: Session, study):
    upsert_staff(db, "boss@example.org", "Boss", "admin", (), PASSWORD, SYSTEM)
    with pytest.raises(StaffAccountError, match="last active admin"):
        upsert_staff(db, "boss@example.org", "Boss", "coordinator", ("BJ",), None, SYSTEM)
    upsert_staff(db, "second@example.org", "Second", "admin", (), PASSWORD, SYSTEM)
    staff, created = upsert_staff(db, "boss@example.org", "Boss", "coordinator", ("BJ",), None, SYSTEM)
    assert not created and staff.role == "coordinator"

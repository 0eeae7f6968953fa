"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import portal.models.base
from portal.models.audit import AUDIT_GUARD_DROPS, POSTGRES_AUDIT_GUARDS, SQLITE_AUDIT_GUARDS

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('actor_type', sa.String(length=12), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=40), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.CheckConstraint("actor_type IN ('staff', 'participant', 'system', 'anonymous', 'provider')", name=op.f('ck_audit_events_actor_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_actor', ['actor_type', 'actor_id'], unique=False)
        batch_op.create_index('ix_audit_events_occurred', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_participant', ['participant_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_site_id'), ['site_id'], unique=False)

    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('preferred_locale', sa.String(length=12), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_enabled', sa.Boolean(), nullable=False),
    sa.Column('totp_last_step', sa.Integer(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('last_login_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('deactivated_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("preferred_locale IN ('zh_Hans_CN', 'en')", name=op.f('ck_staff_users_preferred_locale')),
    sa.CheckConstraint("role IN ('admin', 'coordinator', 'investigator')", name=op.f('ck_staff_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_users_email'))
    )
    op.create_table('studies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('sponsor_zh', sa.String(length=200), nullable=False),
    sa.Column('sponsor_en', sa.String(length=200), nullable=False),
    sa.Column('protocol_version', sa.String(length=40), nullable=False),
    sa.Column('protocol_checksum', sa.String(length=64), nullable=False),
    sa.Column('study_id_pattern', sa.String(length=200), nullable=False),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('loaded_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_studies')),
    sa.UniqueConstraint('code', name=op.f('uq_studies_code'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=80), nullable=False),
    sa.Column('hostname', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_beat_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('arms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_arms_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_arms')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_arms_study_id_code'))
    )
    with op.batch_alter_table('arms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arms_study_id'), ['study_id'], unique=False)

    op.create_table('consent_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_consent_documents_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_documents')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_consent_documents_study_id_code'))
    )
    with op.batch_alter_table('consent_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_documents_study_id'), ['study_id'], unique=False)

    op.create_table('reminder_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('local_time', sa.String(length=5), nullable=False),
    sa.Column('visit_kinds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('infusion_only', sa.Boolean(), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('days_before >= 0', name=op.f('ck_reminder_rules_days_before')),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_reminder_rules_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_rules')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_reminder_rules_study_id_code'))
    )
    with op.batch_alter_table('reminder_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_rules_study_id'), ['study_id'], unique=False)

    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('sms_name_zh', sa.String(length=40), nullable=False),
    sa.Column('sms_name_en', sa.String(length=60), nullable=False),
    sa.Column('city_zh', sa.String(length=80), nullable=False),
    sa.Column('city_en', sa.String(length=80), nullable=False),
    sa.Column('address_zh', sa.String(length=300), nullable=False),
    sa.Column('address_en', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('hours_zh', sa.String(length=200), nullable=False),
    sa.Column('hours_en', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('default_visit_time', sa.String(length=5), nullable=False),
    sa.Column('map_url', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_sites_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_sites_study_id_code'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_study_id'), ['study_id'], unique=False)

    op.create_table('staff_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('used_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_recovery_codes_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_recovery_codes'))
    )
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_recovery_codes_staff_id'), ['staff_id'], unique=False)

    op.create_table('visit_definitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('day_offset', sa.Integer(), nullable=False),
    sa.Column('window_before', sa.Integer(), nullable=False),
    sa.Column('window_after', sa.Integer(), nullable=False),
    sa.Column('procedures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('preparation_zh', sa.Text(), nullable=False),
    sa.Column('preparation_en', sa.Text(), nullable=False),
    sa.Column('fasting', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('baseline', 'treatment', 'follow_up', 'long_term')", name=op.f('ck_visit_definitions_kind')),
    sa.CheckConstraint('day_offset >= 0', name=op.f('ck_visit_definitions_day_offset')),
    sa.CheckConstraint('window_before >= 0 AND window_after >= 0', name=op.f('ck_visit_definitions_window')),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_visit_definitions_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_definitions')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_visit_definitions_study_id_code'))
    )
    with op.batch_alter_table('visit_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_definitions_study_id'), ['study_id'], unique=False)

    op.create_table('consent_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('locale', sa.String(length=12), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('file_path', sa.String(length=300), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('requires_reconsent', sa.Boolean(), nullable=False),
    sa.Column('published_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['consent_documents.id'], name=op.f('fk_consent_versions_document_id_consent_documents')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['staff_users.id'], name=op.f('fk_consent_versions_uploaded_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_versions')),
    sa.UniqueConstraint('document_id', 'label', 'locale', name=op.f('uq_consent_versions_document_id_label_locale')),
    sa.UniqueConstraint('file_sha256', name=op.f('uq_consent_versions_file_sha256'))
    )
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.create_index('ix_consent_versions_published', ['document_id', 'published_at'], unique=False)

    op.create_table('news_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('title_zh', sa.String(length=120), nullable=False),
    sa.Column('title_en', sa.String(length=120), nullable=False),
    sa.Column('body_zh', sa.Text(), nullable=False),
    sa.Column('body_en', sa.Text(), nullable=False),
    sa.Column('notify_sms', sa.Boolean(), nullable=False),
    sa.Column('published_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['published_by_id'], ['staff_users.id'], name=op.f('fk_news_items_published_by_id_staff_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_news_items_site_id_sites')),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_news_items_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_news_items'))
    )
    with op.batch_alter_table('news_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_news_items_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_news_items_study_published', ['study_id', 'published_at'], unique=False)

    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=False),
    sa.Column('study_code', sa.String(length=40), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('phone_e164', sa.String(length=20), nullable=False),
    sa.Column('preferred_locale', sa.String(length=12), nullable=False),
    sa.Column('day0', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('sms_opt_out', sa.Boolean(), nullable=False),
    sa.Column('sms_opt_out_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('sms_opt_out_channel', sa.String(length=12), nullable=True),
    sa.Column('calendar_token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("preferred_locale IN ('zh_Hans_CN', 'en')", name=op.f('ck_participants_preferred_locale')),
    sa.CheckConstraint("sms_opt_out_channel IS NULL OR sms_opt_out_channel IN ('sms', 'portal', 'staff', 'provider')", name=op.f('ck_participants_sms_opt_out_channel')),
    sa.CheckConstraint("status IN ('active', 'withdrawn', 'completed', 'deceased')", name=op.f('ck_participants_status')),
    sa.ForeignKeyConstraint(['arm_id'], ['arms.id'], name=op.f('fk_participants_arm_id_arms')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_participants_site_id_sites')),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_participants_study_id_studies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('calendar_token_hash', name=op.f('uq_participants_calendar_token_hash')),
    sa.UniqueConstraint('id', 'site_id', name='uq_participants_id_site'),
    sa.UniqueConstraint('study_id', 'phone_e164', name=op.f('uq_participants_study_id_phone_e164')),
    sa.UniqueConstraint('study_id', 'study_code', name=op.f('uq_participants_study_id_study_code'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_arm_id'), ['arm_id'], unique=False)
        batch_op.create_index('ix_participants_phone', ['phone_e164'], unique=False)
        batch_op.create_index('ix_participants_site_code', ['site_id', 'study_code'], unique=False, postgresql_include=['id'])
        batch_op.create_index('ix_participants_site_status', ['site_id', 'status'], unique=False, postgresql_include=['id', 'study_code', 'full_name'])

    op.create_table('staff_sites',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_staff_sites_site_id_sites')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_sites_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('staff_id', 'site_id', name=op.f('pk_staff_sites'))
    )
    with op.batch_alter_table('staff_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sites_site_id'), ['site_id'], unique=False)

    op.create_table('visit_definition_arms',
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=False),
    sa.Column('infusion', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['arm_id'], ['arms.id'], name=op.f('fk_visit_definition_arms_arm_id_arms')),
    sa.ForeignKeyConstraint(['definition_id'], ['visit_definitions.id'], name=op.f('fk_visit_definition_arms_definition_id_visit_definitions')),
    sa.PrimaryKeyConstraint('definition_id', 'arm_id', name=op.f('pk_visit_definition_arms'))
    )
    op.create_table('consent_acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=12), nullable=False),
    sa.Column('acknowledged_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_consent_acknowledgements_participant_id_participants')),
    sa.ForeignKeyConstraint(['version_id'], ['consent_versions.id'], name=op.f('fk_consent_acknowledgements_version_id_consent_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_acknowledgements')),
    sa.UniqueConstraint('participant_id', 'version_id', name=op.f('uq_consent_acknowledgements_participant_id_version_id'))
    )
    with op.batch_alter_table('consent_acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_acknowledgements_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_acknowledgements_version_id'), ['version_id'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_consent_records_participant_id_participants')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_users.id'], name=op.f('fk_consent_records_recorded_by_id_staff_users')),
    sa.ForeignKeyConstraint(['version_id'], ['consent_versions.id'], name=op.f('fk_consent_records_version_id_consent_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    sa.UniqueConstraint('participant_id', 'version_id', name=op.f('uq_consent_records_participant_id_version_id'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_records_version_id'), ['version_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('to_number', sa.String(length=20), nullable=False),
    sa.Column('from_number', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('locale', sa.String(length=12), nullable=False),
    sa.Column('due_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('lease_expires_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('segments', sa.Integer(), nullable=True),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('sent_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('delivered_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('status_updated_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('handled_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('meta', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('topic', sa.String(length=12), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('read_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('handled_reason', sa.Text(), nullable=False),
    sa.CheckConstraint("channel IN ('sms', 'portal')", name=op.f('ck_outbox_messages_channel')),
    sa.CheckConstraint("direction IN ('out', 'in')", name=op.f('ck_outbox_messages_direction')),
    sa.CheckConstraint("kind IN ('reminder', 'sign_in_code', 'staff', 'notification', 'reply', 'inbound', 'enquiry')", name=op.f('ck_outbox_messages_kind')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'unknown', 'queued', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled', 'received')", name=op.f('ck_outbox_messages_status')),
    sa.CheckConstraint("topic IS NULL OR topic IN ('visit', 'medicines', 'feeling', 'other')", name=op.f('ck_outbox_messages_topic')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_messages_attempts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], name=op.f('fk_outbox_messages_created_by_id_staff_users')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['staff_users.id'], name=op.f('fk_outbox_messages_handled_by_id_staff_users')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_outbox_messages_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_outbox_messages_provider_id'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_open_inbox', ['urgent', 'created_at', 'id', 'participant_id'], unique=False, postgresql_where=sa.text("direction = 'in' AND handled_at IS NULL"), sqlite_where=sa.text("direction = 'in' AND handled_at IS NULL"))
        batch_op.create_index('ix_outbox_messages_participant_created', ['participant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_outbox_messages_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_outbox_messages_to_created', ['to_number', 'created_at'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('is_infusion', sa.Boolean(), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('scheduled_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('actual_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('out_of_window', sa.Boolean(), nullable=False),
    sa.Column('out_of_window_reason', sa.Text(), nullable=False),
    sa.Column('confirmed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('confirmed_channel', sa.String(length=12), nullable=True),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'scheduled', 'confirmed', 'completed', 'missed', 'cancelled')", name=op.f('ck_visits_status')),
    sa.CheckConstraint('window_start <= target_date AND target_date <= window_end', name=op.f('ck_visits_window')),
    sa.ForeignKeyConstraint(['definition_id'], ['visit_definitions.id'], name=op.f('fk_visits_definition_id_visit_definitions')),
    sa.ForeignKeyConstraint(['participant_id', 'site_id'], ['participants.id', 'participants.site_id'], name='fk_visits_participant_site'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_visits_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('participant_id', 'definition_id', name=op.f('uq_visits_participant_id_definition_id'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index('ix_visits_participant_target', ['participant_id', 'target_date'], unique=False)
        batch_op.create_index('ix_visits_site_status_scheduled', ['site_id', 'status', 'scheduled_at'], unique=False)
        batch_op.create_index('ix_visits_site_status_target', ['site_id', 'status', 'target_date'], unique=False)
        batch_op.create_index('ix_visits_status_scheduled', ['status', 'scheduled_at'], unique=False)
        batch_op.create_index('ix_visits_status_target', ['status', 'target_date'], unique=False)

    op.create_table('enquiries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=80), nullable=False),
    sa.Column('phone_e164', sa.String(length=20), nullable=False),
    sa.Column('preferred_locale', sa.String(length=12), nullable=False),
    sa.Column('call_time', sa.String(length=12), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('consent_to_contact', sa.Boolean(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('confirmation_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("call_time IN ('morning', 'afternoon', 'evening', 'any')", name=op.f('ck_enquiries_call_time')),
    sa.CheckConstraint("status IN ('new', 'contacted', 'screening', 'not_eligible', 'enrolled')", name=op.f('ck_enquiries_status')),
    sa.ForeignKeyConstraint(['confirmation_message_id'], ['outbox_messages.id'], name=op.f('fk_enquiries_confirmation_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_enquiries_participant_id_participants')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_enquiries_site_id_sites')),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_enquiries_study_id_studies')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff_users.id'], name=op.f('fk_enquiries_updated_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enquiries'))
    )
    with op.batch_alter_table('enquiries', schema=None) as batch_op:
        batch_op.create_index('ix_enquiries_address_created', ['address_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_enquiries_phone_created', ['phone_e164', 'created_at'], unique=False)
        batch_op.create_index('ix_enquiries_site_status_created', ['site_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_enquiries_status_updated', ['status', 'updated_at'], unique=False)

    op.create_table('news_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('news_item_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('read_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_news_receipts_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['news_item_id'], ['news_items.id'], name=op.f('fk_news_receipts_news_item_id_news_items')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_news_receipts_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_news_receipts')),
    sa.UniqueConstraint('news_item_id', 'participant_id', name=op.f('uq_news_receipts_news_item_id_participant_id'))
    )
    with op.batch_alter_table('news_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_news_receipts_participant', ['participant_id', 'read_at'], unique=False)

    op.create_table('reminder_plan_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('planned_for', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'sent', 'cancelled', 'dropped')", name=op.f('ck_reminder_plan_entries_status')),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_reminder_plan_entries_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_reminder_plan_entries_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_plan_entries')),
    sa.UniqueConstraint('message_id', name=op.f('uq_reminder_plan_entries_message_id')),
    sa.UniqueConstraint('visit_id', 'rule_code', name=op.f('uq_reminder_plan_entries_visit_id_rule_code'))
    )
    op.create_table('reschedule_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('proposed_date_1', sa.Date(), nullable=False),
    sa.Column('proposed_date_2', sa.Date(), nullable=True),
    sa.Column('proposed_date_3', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('handled_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('accepted_date', sa.Date(), nullable=True),
    sa.Column('response_message', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'declined', 'withdrawn')", name=op.f('ck_reschedule_requests_status')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['staff_users.id'], name=op.f('fk_reschedule_requests_handled_by_id_staff_users')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_reschedule_requests_participant_id_participants')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_reschedule_requests_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reschedule_requests'))
    )
    with op.batch_alter_table('reschedule_requests', schema=None) as batch_op:
        batch_op.create_index('ix_reschedule_requests_participant', ['participant_id'], unique=False)
        batch_op.create_index('ix_reschedule_requests_visit_status', ['visit_id', 'status'], unique=False)

    op.create_table('result_panels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('collected_on', sa.Date(), nullable=False),
    sa.Column('ascites_grade', sa.Integer(), nullable=True),
    sa.Column('encephalopathy_grade', sa.Integer(), nullable=True),
    sa.Column('on_dialysis', sa.Boolean(), nullable=False),
    sa.Column('meld', sa.Float(), nullable=True),
    sa.Column('meld_na', sa.Float(), nullable=True),
    sa.Column('child_pugh_score', sa.Integer(), nullable=True),
    sa.Column('child_pugh_class', sa.String(length=1), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("child_pugh_class IS NULL OR child_pugh_class IN ('A', 'B', 'C')", name=op.f('ck_result_panels_child_pugh')),
    sa.CheckConstraint('ascites_grade IS NULL OR ascites_grade BETWEEN 1 AND 3', name=op.f('ck_result_panels_ascites')),
    sa.CheckConstraint('encephalopathy_grade IS NULL OR encephalopathy_grade BETWEEN 1 AND 3', name=op.f('ck_result_panels_encephalopathy')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['staff_users.id'], name=op.f('fk_result_panels_entered_by_id_staff_users')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_result_panels_participant_id_participants')),
    sa.ForeignKeyConstraint(['released_by_id'], ['staff_users.id'], name=op.f('fk_result_panels_released_by_id_staff_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_result_panels_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_panels')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_result_panels_visit_id'))
    )
    with op.batch_alter_table('result_panels', schema=None) as batch_op:
        batch_op.create_index('ix_result_panels_participant_released', ['participant_id', 'released_at'], unique=False)

    op.create_table('sign_in_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_sign_in_challenges_message_id_outbox_messages')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_sign_in_challenges_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_challenges'))
    )
    with op.batch_alter_table('sign_in_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_challenges_address_created', ['address_hash', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_challenges_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_sign_in_challenges_phone_created', ['phone_hash', 'created_at'], unique=False)

    op.create_table('enquiry_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enquiry_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('status_from', sa.String(length=16), nullable=False),
    sa.Column('status_to', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enquiry_id'], ['enquiries.id'], name=op.f('fk_enquiry_notes_enquiry_id_enquiries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_enquiry_notes_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enquiry_notes'))
    )
    with op.batch_alter_table('enquiry_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enquiry_notes_enquiry_id'), ['enquiry_id'], unique=False)

    op.create_table('result_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('analyte', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('ref_low', sa.Float(), nullable=True),
    sa.Column('ref_high', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['panel_id'], ['result_panels.id'], name=op.f('fk_result_values_panel_id_result_panels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_values')),
    sa.UniqueConstraint('panel_id', 'analyte', name=op.f('uq_result_values_panel_id_analyte'))
    )
    op.create_table('result_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value_id', sa.Integer(), nullable=False),
    sa.Column('old_value', sa.Float(), nullable=False),
    sa.Column('new_value', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('corrected_by_id', sa.Integer(), nullable=True),
    sa.Column('corrected_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['staff_users.id'], name=op.f('fk_result_corrections_corrected_by_id_staff_users')),
    sa.ForeignKeyConstraint(['value_id'], ['result_values.id'], name=op.f('fk_result_corrections_value_id_result_values')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_corrections'))
    )
    with op.batch_alter_table('result_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_corrections_value_id'), ['value_id'], unique=False)


    _install_audit_guards()


def downgrade() -> None:
    for statement in AUDIT_GUARD_DROPS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    with op.batch_alter_table('result_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_corrections_value_id'))

    op.drop_table('result_corrections')
    op.drop_table('result_values')
    with op.batch_alter_table('enquiry_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enquiry_notes_enquiry_id'))

    op.drop_table('enquiry_notes')
    with op.batch_alter_table('sign_in_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_challenges_phone_created')
        batch_op.drop_index(batch_op.f('ix_sign_in_challenges_participant_id'))
        batch_op.drop_index('ix_sign_in_challenges_address_created')

    op.drop_table('sign_in_challenges')
    with op.batch_alter_table('result_panels', schema=None) as batch_op:
        batch_op.drop_index('ix_result_panels_participant_released')

    op.drop_table('result_panels')
    with op.batch_alter_table('reschedule_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_reschedule_requests_visit_status')
        batch_op.drop_index('ix_reschedule_requests_participant')

    op.drop_table('reschedule_requests')
    op.drop_table('reminder_plan_entries')
    with op.batch_alter_table('news_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_news_receipts_participant')

    op.drop_table('news_receipts')
    with op.batch_alter_table('enquiries', schema=None) as batch_op:
        batch_op.drop_index('ix_enquiries_status_updated')
        batch_op.drop_index('ix_enquiries_site_status_created')
        batch_op.drop_index('ix_enquiries_phone_created')
        batch_op.drop_index('ix_enquiries_address_created')

    op.drop_table('enquiries')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_status_target')
        batch_op.drop_index('ix_visits_status_scheduled')
        batch_op.drop_index('ix_visits_site_status_target')
        batch_op.drop_index('ix_visits_site_status_scheduled')
        batch_op.drop_index('ix_visits_participant_target')
        batch_op.drop_index(batch_op.f('ix_visits_definition_id'))

    op.drop_table('visits')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_to_created')
        batch_op.drop_index('ix_outbox_messages_status_due')
        batch_op.drop_index('ix_outbox_messages_participant_created')
        batch_op.drop_index('ix_outbox_messages_open_inbox', postgresql_where=sa.text("direction = 'in' AND handled_at IS NULL"), sqlite_where=sa.text("direction = 'in' AND handled_at IS NULL"))

    op.drop_table('outbox_messages')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_version_id'))
        batch_op.drop_index(batch_op.f('ix_consent_records_participant_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('consent_acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_acknowledgements_version_id'))
        batch_op.drop_index(batch_op.f('ix_consent_acknowledgements_participant_id'))

    op.drop_table('consent_acknowledgements')
    op.drop_table('visit_definition_arms')
    with op.batch_alter_table('staff_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sites_site_id'))

    op.drop_table('staff_sites')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index('ix_participants_site_status', postgresql_include=['id', 'study_code', 'full_name'])
        batch_op.drop_index('ix_participants_site_code', postgresql_include=['id'])
        batch_op.drop_index('ix_participants_phone')
        batch_op.drop_index(batch_op.f('ix_participants_arm_id'))

    op.drop_table('participants')
    with op.batch_alter_table('news_items', schema=None) as batch_op:
        batch_op.drop_index('ix_news_items_study_published')
        batch_op.drop_index(batch_op.f('ix_news_items_site_id'))

    op.drop_table('news_items')
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_versions_published')

    op.drop_table('consent_versions')
    with op.batch_alter_table('visit_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_definitions_study_id'))

    op.drop_table('visit_definitions')
    with op.batch_alter_table('staff_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_recovery_codes_staff_id'))

    op.drop_table('staff_recovery_codes')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_study_id'))

    op.drop_table('sites')
    with op.batch_alter_table('reminder_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_rules_study_id'))

    op.drop_table('reminder_rules')
    with op.batch_alter_table('consent_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_documents_study_id'))

    op.drop_table('consent_documents')
    with op.batch_alter_table('arms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arms_study_id'))

    op.drop_table('arms')
    op.drop_table('worker_heartbeats')
    op.drop_table('studies')
    op.drop_table('staff_users')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_site_id'))
        batch_op.drop_index('ix_audit_events_participant')
        batch_op.drop_index('ix_audit_events_occurred')
        batch_op.drop_index('ix_audit_events_actor')

    op.drop_table('audit_events')


def _install_audit_guards() -> None:
    """The database itself refuses UPDATE and DELETE on audit rows (DESIGN.md invariant 7)."""
    dialect = op.get_bind().dialect.name
    guards = {"sqlite": SQLITE_AUDIT_GUARDS, "postgresql": POSTGRES_AUDIT_GUARDS}.get(dialect, ())
    for statement in guards:
        op.execute(statement)

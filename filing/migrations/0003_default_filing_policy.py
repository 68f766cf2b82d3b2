"""The default filing policy, for insured areas without their own: the national rules (医保发〔2022〕22号).

Long-term groups are valid until cancelled and may replace their proof with a signed commitment; temporary
groups are valid for six months; an emergency counts as filed. Agencies edit it, or add their own, in admin.
"""

from django.db import migrations

RULES = {
    "retiree": {"materials": ["household_register"], "commitment_allowed": True, "retired_required": True},
    "resident": {"materials": ["residence_proof"], "commitment_allowed": True},
    "worker": {"materials": ["work_proof"], "commitment_allowed": True},
    "referral": {"materials": ["referral_letter"], "validity_months": 6, "max_validity_months": 12},
    "emergency": {"validity_months": 6, "auto_approve": True},
    "temporary": {"validity_months": 6, "max_validity_months": 12, "commitment_allowed": True},
}


def create_default(apps, schema_editor):
    FilingPolicy = apps.get_model("filing", "FilingPolicy")
    GroupRule = apps.get_model("filing", "GroupRule")
    policy, _ = FilingPolicy.objects.get_or_create(
        region=None, defaults={"review_deadline_days": 10, "instant_approval": True, "retroactive_days": 90}
    )
    for group, values in RULES.items():
        GroupRule.objects.get_or_create(policy=policy, group=group, defaults=values)


def remove_default(apps, schema_editor):
    apps.get_model("filing", "FilingPolicy").objects.filter(region=None).delete()


class Migration(migrations.Migration):
    dependencies = [("filing", "0002_no_overlapping_approved_filings")]

    operations = [migrations.RunPython(create_default, remove_default)]

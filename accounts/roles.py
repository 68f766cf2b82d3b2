"""What each staff role may do in Django admin; reviewers additionally see only their own pooling area."""

from django.contrib.auth.models import Group, Permission

REVIEWERS_GROUP = "reviewers"
# App label and codename; apps add the permissions their reviewers need here.
REVIEWER_PERMISSIONS = [
    ("accounts", "view_insuredperson"),
    ("filing", "view_filing"),
    ("filing", "change_filing"),
    ("filing", "view_filingdocument"),
    ("filing", "view_filingpolicy"),
    ("filing", "change_filingpolicy"),
    ("filing", "view_grouprule"),
    ("filing", "change_grouprule"),
    ("filing", "add_grouprule"),
    ("ecode", "view_credential"),
    ("settlement", "view_settlement"),
    ("settlement", "view_supervisionflag"),
    ("settlement", "change_supervisionflag"),
    ("settlement", "view_policy"),
    ("settlement", "add_policy"),
    ("settlement", "change_policy"),
    ("settlement", "view_policyrate"),
    ("settlement", "add_policyrate"),
    ("settlement", "change_policyrate"),
    ("settlement", "delete_policyrate"),
    ("settlement", "view_criticalillnesstier"),
    ("settlement", "add_criticalillnesstier"),
    ("settlement", "change_criticalillnesstier"),
    ("settlement", "delete_criticalillnesstier"),
    ("settlement", "view_assistancerule"),
    ("settlement", "add_assistancerule"),
    ("settlement", "change_assistancerule"),
    ("settlement", "delete_assistancerule"),
    ("settlement", "view_accumulator"),
]


def reviewers_group() -> Group:
    """The reviewers' group with its permissions (created or brought up to date)."""
    group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    perms = []
    for app_label, codename in REVIEWER_PERMISSIONS:
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            perms.append(perm)
    group.permissions.set(perms)
    return group

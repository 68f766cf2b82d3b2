from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = pgettext_lazy("admin app", "Settlement")

    def ready(self):
        from filing.policy import ratio_cut_source_set

        from .selectors import group_ratio_cut_points

        # Filing shows the cut a settlement policy makes for a filing group (filing.policy).
        ratio_cut_source_set(group_ratio_cut_points)

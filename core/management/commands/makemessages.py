"""makemessages with catalogues sorted by message and without source locations.

Sorted, location-free catalogues change only where a message is added or removed, so branches that add
messages in different places merge without conflicts.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--sort-output"]
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--sort-output", "--no-location"]
    msguniq_options = [*makemessages.Command.msguniq_options, "--sort-output"]
    msgattrib_options = [*makemessages.Command.msgattrib_options, "--sort-output"]

    def handle(self, *args, **options):
        options["no_location"] = True
        super().handle(*args, **options)

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo data and accounts (idempotent; refused under production settings)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the demo accounts as JSON.")

    def handle(self, *args, **options):
        if settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError("seed_demo refuses to run under production settings.")
        demo = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps(demo.as_json(), ensure_ascii=False, indent=2))
            return
        out = self.stdout.write
        out("Demo accounts (development only):")
        out(
            f"  admin           {demo.admin['username']} / {demo.admin['password']}   http://127.0.0.1:8000/admin/"
        )
        out("  insured people  (sign in at http://127.0.0.1:8000/ with phone and password)")
        for p in demo.people:
            out(
                f"    {p['phone']} / {p['password']}  {p['group']:<9} insured in {p['insured_region_name']}"
                f" ({p['insured_region']}), ID {p['id_number']}"
            )
        out("  reviewers       (Django admin)")
        for r in demo.reviewers:
            out(f"    {r['username']} / {r['password']}  {r['region_name']}")
        out("  counters        (http://127.0.0.1:8000/counter/ with username, or API key for terminals)")
        for c in demo.counters:
            out(f"    {c['username']} / {c['password']}  {c['institution_name']}  Api-Key {c['api_key']}")

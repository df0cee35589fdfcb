"""Import events were recorded as "import uploaded", "import confirmed"…; every other action is
"kind.verb" ("recipient.updated"), which the audit log groups and filters by. Renames the
action codes of recorded import events (nothing else in them changes)."""

from django.db import migrations

RENAMES = {
    "import uploaded": "import.uploaded",
    "import mapping changed": "import.mapping_changed",
    "import confirmed": "import.confirmed",
    "import discarded": "import.discarded",
}


def dotted(apps, schema_editor):
    events = apps.get_model("audit", "AuditEvent").objects
    for old, new in RENAMES.items():
        events.filter(action=old).update(action=new)


def spaced(apps, schema_editor):
    events = apps.get_model("audit", "AuditEvent").objects
    for old, new in RENAMES.items():
        events.filter(action=new).update(action=old)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(dotted, spaced)]

# Packets and emails share one outbox (referrals/outbox.py): the same fields under the same names.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0008_attachment_part_removed'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='packet', name='packet_sweep_idx'),
        migrations.RenameField(model_name='packet', old_name='sent_at', new_name='enqueued_at'),
        migrations.RenameField(model_name='packet', old_name='started_at', new_name='claimed_at'),
        migrations.RenameField(model_name='packet', old_name='error', new_name='last_error'),
        migrations.RenameField(model_name='packet', old_name='queued_at', new_name='created_at'),
        migrations.AddIndex(
            model_name='packet',
            index=models.Index(fields=['status', 'enqueued_at'], name='packet_sweep_idx'),
        ),
        migrations.RenameField(model_name='notification', old_name='sent_at', new_name='finished_at'),
        migrations.AlterField(
            model_name='notification', name='last_error', field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='notification', name='claim', field=models.UUIDField(blank=True, null=True),
        ),
    ]

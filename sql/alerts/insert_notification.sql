-- Queue one notification (delivered right after, retried at later runs while pending).
insert into alerts.notifications
values (
    (select coalesce(max(notification_id), 0) + 1 from alerts.notifications),
    $incident_id,
    $event,
    $endpoint,
    $endpoint_hash,
    $format,
    $body,
    'pending',
    0,
    null,
    $now::TIMESTAMPTZ,
    null,
    null,
    $run_id
)

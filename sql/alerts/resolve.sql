-- Open incidents resolve once the data has gone $quiet_minutes past their last send (data
-- time); a stale source once a run finds it fresh again.
update alerts.incidents
set
    status = 'resolved',
    resolved_at = $now::TIMESTAMPTZ,
    resolved_by = $evaluation_id,
    updated_at = $now::TIMESTAMPTZ
where
    status = 'open'
    and (
        (
            kind = 'stale_source'
            and subject not in (select subject from alert_hits where kind = 'stale_source')
        )
        or (
            kind <> 'stale_source'
            and $data_now::TIMESTAMPTZ - last_seen >= $quiet_minutes * interval 1 minute
        )
    )

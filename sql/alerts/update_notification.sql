-- The outcome of one delivery round of a notification.
update alerts.notifications
set
    status = $status,
    attempts = attempts + $attempts,
    last_error = $error,
    last_attempt_at = $now::TIMESTAMPTZ,
    delivered_at = case when $status = 'delivered' then $now::TIMESTAMPTZ end
where notification_id = $notification_id

-- One evaluation, recorded when it had something to look at.
insert into alerts.evaluations
values (
    $evaluation_id,
    $run_id,
    $now::TIMESTAMPTZ,
    $loaded_through::TIMESTAMPTZ,
    $data_now::TIMESTAMPTZ,
    $first_load,
    $window_dates,
    $hits,
    $opened,
    $resolved,
    $seconds
)

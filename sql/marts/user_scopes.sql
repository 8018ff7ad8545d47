-- mart_int.user_scopes (intermediate, not published): the dashboard's scopes of each user,
-- the one place the experiment fan-out is written. Per user of core.users or
-- core.experiment_assignments: a row with experiment_id '*' (every user) plus one row per
-- experiment the user is assigned to, each with the user's score band (null: not in
-- core.users). A mart joins its rows to it to count each row once in scope '*' and once in
-- every experiment of its user. A user in neither table (a message or opt-out of an unknown
-- user) has no row: with a left join it is scope '*' without a score band, written
-- coalesce(experiment_id, '*').
create or replace table mart_int.user_scopes as
with
known_users as (
    select user_id from core.users
    union
    select user_id from core.experiment_assignments
),

scopes as (
    select
        user_id,
        '*' as experiment_id
    from known_users
    union all
    select distinct
        user_id,
        experiment_id
    from core.experiment_assignments
)

select
    scopes.user_id,
    u.score_band,
    scopes.experiment_id
from scopes
left join core.users as u
    on u.user_id = scopes.user_id

{{ config(meta={'dagster': {'ref': {'name': 'fct_digest_hourly'}}}) }}

-- Hourly digests must hold exactly the raw events still retained: same count, sum, min and max
-- per budget, measure, segment and day (days pruned from raw by retention are not compared), over the
-- window the run rebuilt (the whole history with the default vars).
with raw_days as (
    select budget_id, measure, segment_id, day,
           count(*) as event_count, sum(value) as value_sum, min(value) as value_min, max(value) as value_max
    from {{ ref('stg_events') }}
    where day >= {{ window_start() }} and day < {{ window_end() }}
    group by budget_id, measure, segment_id, day
),

digest_days as (
    select budget_id, measure, segment_id, day,
           sum(event_count) as event_count, sum(value_sum) as value_sum, min(value_min) as value_min, max(value_max) as value_max
    from {{ ref('fct_digest_hourly') }}
    where day >= {{ window_start() }} and day < {{ window_end() }}
    group by budget_id, measure, segment_id, day
),

-- only days both tables still keep (retention prunes raw events and hourly digests separately)
compared_from as (
    select greatest(
        (select min(day) from {{ ref('stg_events') }}),
        (select min(day) from {{ ref('fct_digest_hourly') }})
    ) as first_day
)

select coalesce(r.budget_id, d.budget_id) as budget_id, coalesce(r.day, d.day) as day,
       r.event_count as raw_count, d.event_count as digest_count
from raw_days as r
full outer join digest_days as d
    on d.budget_id = r.budget_id and d.measure = r.measure and d.segment_id = r.segment_id and d.day = r.day
where coalesce(r.day, d.day) >= (select first_day from compared_from)
  and (r.event_count is distinct from d.event_count
   or abs(r.value_sum - d.value_sum) > 1e-6 * greatest(abs(r.value_sum), 1)
   or r.value_min <> d.value_min
   or r.value_max <> d.value_max)

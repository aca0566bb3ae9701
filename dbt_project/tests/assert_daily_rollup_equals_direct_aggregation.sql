{{ config(meta={'dagster': {'ref': {'name': 'fct_digest_daily'}}}) }}

-- Daily digests merged from hourly ones must equal a direct aggregation of the raw events,
-- variance included (the exact merge is checked against var_samp over the events), over the window the run
-- rebuilt (the whole history with the default vars).
with direct as (
    select budget_id, measure, segment_id, day,
           count(*) as event_count, sum(value) as value_sum, min(value) as value_min,
           max(value) as value_max, var_samp(value) as value_variance
    from {{ ref('stg_events') }}
    where day >= {{ window_start() }} and day < {{ window_end() }}
    group by budget_id, measure, segment_id, day
)

select d.budget_id, d.measure, d.segment_id, d.day, d.value_variance as direct_variance, r.value_variance as rollup_variance
from direct as d
left join {{ ref('fct_digest_daily') }} as r
    on r.budget_id = d.budget_id and r.measure = d.measure and r.segment_id = d.segment_id and r.day = d.day
where r.event_count is distinct from d.event_count
   or abs(r.value_sum - d.value_sum) > 1e-6 * greatest(abs(d.value_sum), 1)
   or r.value_min <> d.value_min or r.value_max <> d.value_max
   or abs(coalesce(r.value_variance, 0) - coalesce(d.value_variance, 0)) > 1e-6 * greatest(abs(d.value_variance), 1)
   or (r.value_variance is null) <> (d.value_variance is null)

{{ config(meta={'dagster': {'ref': {'name': 'metric_values'}}}) }}

-- Additive base metrics (count, sum) of the budget total equal the sum over every segment level.
with additive as (
    select budget_id, metric_id from {{ ref('stg_metric_catalog') }} where aggregation in ('count', 'sum')
),

values_ as (
    select v.* from {{ ref('metric_values') }} as v
    inner join additive as a on a.budget_id = v.budget_id and a.metric_id = v.metric_id
),

by_level as (
    select budget_id, metric_id, grain, period_start, segment_level, sum(value) as level_total
    from values_ where segment_level <> '_total'
    group by budget_id, metric_id, grain, period_start, segment_level
)

select l.*, t.value as budget_total
from by_level as l
inner join values_ as t
    on t.budget_id = l.budget_id and t.metric_id = l.metric_id and t.grain = l.grain
   and t.period_start = l.period_start and t.segment_level = '_total'
where abs(l.level_total - t.value) > 1e-6 * greatest(abs(t.value), 1)

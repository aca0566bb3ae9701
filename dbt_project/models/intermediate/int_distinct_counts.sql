-- distinct_count metrics: how many distinct segments of the metric's `of` level had
-- events of its measure in the period, under each node.
with definitions as (
    select budget_id, metric_id, measure, of_level
    from {{ ref('stg_metric_catalog') }}
    where aggregation = 'distinct_count'
),

leaf_activity as (
    select budget_id, measure, segment_id as leaf_id, 'day' as grain, day as period_start
    from {{ ref('fct_digest_daily') }} where event_count > 0
    union all
    select budget_id, measure, segment_id, 'week', week_start from {{ ref('fct_digest_weekly') }} where event_count > 0
    union all
    select budget_id, measure, segment_id, 'month', month_start from {{ ref('fct_digest_monthly') }} where event_count > 0
),

final as (
    select
        a.budget_id,
        d.metric_id,
        a.grain,
        a.period_start,
        n.segment_level,
        n.node_id as segment_id,
        count(distinct counted.node_id) as value
    from leaf_activity as a
    inner join definitions as d on d.budget_id = a.budget_id and d.measure = a.measure
    inner join {{ ref('int_segment_nodes') }} as n on n.budget_id = a.budget_id and n.leaf_id = a.leaf_id
    inner join {{ ref('stg_segment_members') }} as counted
        on counted.budget_id = a.budget_id and counted.leaf_id = a.leaf_id and counted.segment_level = d.of_level
    group by a.budget_id, d.metric_id, a.grain, a.period_start, n.segment_level, n.node_id
)

select * from final

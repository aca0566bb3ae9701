-- Digests of every segment node (every level and the budget total) at day, week and
-- month grain, merged exactly from the lowest-level digests.
with leaf_digests as (
    select budget_id, measure, segment_id, 'day' as grain, day as period_start,
           event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_daily') }}
    union all
    select budget_id, measure, segment_id, 'week' as grain, week_start as period_start,
           event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_weekly') }}
    union all
    select budget_id, measure, segment_id, 'month' as grain, month_start as period_start,
           event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_monthly') }}
),

by_node as (
    select
        d.budget_id, d.measure, d.grain, d.period_start, n.segment_level, n.node_id as segment_id, n.depth,
        d.event_count, d.value_sum, d.value_min, d.value_max, d.value_m2
    from leaf_digests as d
    inner join {{ ref('int_segment_nodes') }} as n
        on n.budget_id = d.budget_id and n.leaf_id = d.segment_id
),

merged as (
    {{ merge_digests('by_node', ['budget_id', 'measure', 'grain', 'period_start', 'segment_level', 'segment_id', 'depth']) }}
),

final as (
    select *, {{ sample_variance() }} as value_variance from merged
)

select * from final

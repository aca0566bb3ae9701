{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_changed_periods(node_digest_readings()) }}",
    )
}}

-- Digests of every segment node (every level and the budget total) at day, week and
-- month grain, merged exactly from the lowest-level digests. Kept by period (macros/kept_periods.sql):
-- a run merges only the periods whose leaf digests or segment tree changed.
with to_build as (
    {{ periods_to_build(node_digest_readings()) }}
),

leaf_digests as (
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
    semi join to_build as b
        on b.budget_id = d.budget_id and b.grain = d.grain and b.period_start = d.period_start
    inner join {{ ref('int_segment_nodes') }} as n
        on n.budget_id = d.budget_id and n.leaf_id = d.segment_id
),

merged as (
    {{ merge_digests('by_node', ['budget_id', 'measure', 'grain', 'period_start', 'segment_level', 'segment_id', 'depth']) }}
),

final as (
    select m.*, {{ sample_variance() }} as value_variance, b.input_reading
    from merged as m
    inner join to_build as b
        on b.budget_id = m.budget_id and b.grain = m.grain and b.period_start = m.period_start
)

select * from final

-- Every lowest-level segment mapped to each of its ancestors, and to the budget total
-- (segment_level '_total'), so leaf digests can be merged at any level.
with members as (
    select * from {{ ref('stg_segment_members') }}
),

totals as (
    select distinct
        budget_id,
        leaf_id,
        0 as depth,
        '_total' as segment_level,
        '_total' as node_id,
        'total' as node_value
    from members
),

final as (
    select budget_id, leaf_id, depth, segment_level, node_id, node_value from members
    union all
    select budget_id, leaf_id, depth, segment_level, node_id, node_value from totals
)

select * from final

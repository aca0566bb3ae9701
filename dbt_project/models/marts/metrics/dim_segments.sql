-- Every segment node (all levels, plus the budget total) with its parent.
with nodes as (
    select distinct budget_id, depth, segment_level, node_id, node_value
    from {{ ref('int_segment_nodes') }}
),

final as (
    select
        budget_id,
        segment_level,
        node_id as segment_id,
        node_value,
        depth,
        case
            when depth = 0 then null
            when depth = 1 then '_total'
            else {{ parent_path('node_id') }}
        end as parent_id
    from nodes
)

select * from final
